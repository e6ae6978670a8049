"""What the proxy asks of the hub: which space a URL names and whether the caller may see it,
then the supervisor's answers about that space (running? wake it, its stage, a visit)."""

from __future__ import annotations

import asyncio

from hugbox.auth.recent import RecentAccess
from hugbox.auth.service import authenticate
from hugbox.db import Database
from hugbox.errors import RepoNotFound
from hugbox.repos import service as repos
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.service import Need
from hugbox.spaces.host.supervisor import Space, Supervisor
from hugbox.spaces.models import SpaceStage
from hugbox.spaces.proxy.origin import Credentials, Upstream


class SpacesDirectory:
    def __init__(self, supervisor: Supervisor, database: Database, *, access_ttl: float = 1.0):
        self.supervisor = supervisor
        self.database = database
        # Apps make many small requests (assets, the queue's polls): access is checked against
        # the database at most once a second per token and space.
        self._access = RecentAccess(access_ttl, max_entries=4096)

    async def find(self, owner: str, name: str, credentials: Credentials) -> Space:
        key = RecentAccess.key(credentials.token, owner.lower(), name.lower())
        found: tuple[int, str] | None = self._access.get(key)
        if found is None:
            found = await asyncio.to_thread(self._authorize, f"{owner}/{name}", credentials.token)
            self._access.put(key, found)
        pk, repo_id = found
        known = self.supervisor.spaces.get(pk)
        # A space never committed to has no app yet, and nothing for the supervisor to keep.
        return known if known is not None else Space(pk=pk, repo_id=repo_id)

    def _authorize(self, repo_id: str, token: str | None) -> tuple[int, str]:
        with self.database.session() as session:
            caller = authenticate(session, token)
            repo = repos.find_repo(session, RepoType.SPACE, repo_id)
            if not isinstance(repo, Repo):
                raise RepoNotFound(anonymous=caller.anonymous)
            repos.authorize(session, caller, repo, Need.READ)
            return repo.pk, repo.repo_id

    def running(self, space: Space) -> Upstream | None:
        return space.upstream

    async def wake(self, space: Space) -> Upstream:
        return await self.supervisor.wake(space)

    def stage(self, space: Space) -> str:
        if space.upstream is not None and space.stage is SpaceStage.SLEEPING:
            return SpaceStage.RUNNING.value
        return space.stage.value

    def touch(self, space: Space) -> None:
        self.supervisor.touch(space)
