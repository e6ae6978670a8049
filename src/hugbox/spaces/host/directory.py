"""What the proxy asks of the hub: which space a URL names and whether the caller may see it,
then the supervisor's answers about that space (running? wake it, its stage, a visit). On a
spaces host that does not supervise, the answers come from the state all hosts share
(runs.py): the app's address, the stage, wakes asked of the supervising host."""

from __future__ import annotations

import asyncio
import time

from hugbox.auth.recent import RecentAccess
from hugbox.auth.service import authenticate
from hugbox.db import Database
from hugbox.errors import RepoNotFound, ServiceUnavailable
from hugbox.repos import service as repos
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.service import Need
from hugbox.spaces.host import runs
from hugbox.spaces.host.supervisor import Space, Supervisor, why_not_running
from hugbox.spaces.models import RunState, SpaceStage
from hugbox.spaces.proxy.origin import Credentials, Upstream

SHARED_TTL_S = 1.0  # how long a host that does not supervise trusts what it read of a space
VISIT_EVERY_S = 2.0  # how often such a host records that a space has visitors
WAKE_POLL_S = 0.2


class SpacesDirectory:
    def __init__(self, supervisor: Supervisor, database: Database, *, access_ttl: float = 1.0):
        self.supervisor = supervisor
        self.database = database
        # Apps make many small requests (assets, the queue's polls): access is checked against
        # the database at most once a second per token and space.
        self._access = RecentAccess(access_ttl, max_entries=4096)
        self._shared: dict[int, tuple[float, runs.Shared]] = {}
        self._visits: dict[int, float] = {}  # when each space's last visit was recorded
        self._writes: set[asyncio.Task[None]] = set()

    async def find(self, owner: str, name: str, credentials: Credentials) -> Space:
        key = RecentAccess.key(credentials.token, owner.lower(), name.lower())
        found: tuple[int, str] | None = self._access.get(key)
        if found is None:
            found = await asyncio.to_thread(self._authorize, f"{owner}/{name}", credentials.token)
            self._access.put(key, found)
        pk, repo_id = found
        if not self.supervisor.leading:
            return await self._shared_space(pk, repo_id)
        known = self.supervisor.spaces.get(pk)
        # A space never committed to has no app yet, and nothing for the supervisor to keep.
        return known if known is not None else Space(pk=pk, repo_id=repo_id)

    async def _shared_space(self, pk: int, repo_id: str) -> Space:
        """The space as the database shows it, read at most once a second."""
        cached = self._shared.get(pk)
        if cached is None or time.monotonic() - cached[0] > SHARED_TTL_S:
            shared = await asyncio.to_thread(runs.read_shared, self.database, pk)
            cached = self._shared[pk] = (time.monotonic(), shared)
        return Space(pk=pk, repo_id=repo_id, stage=cached[1].stage, upstream=cached[1].upstream)

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
        if self.supervisor.leading:
            return await self.supervisor.wake(space)
        return await self._wake_elsewhere(space)

    async def _wake_elsewhere(self, space: Space) -> Upstream:
        """Ask the supervising host, then wait until the app runs or the host says it cannot
        (the proxy bounds the wait)."""
        await asyncio.to_thread(runs.request_wake, self.database, space.pk)
        while True:
            shared = await asyncio.to_thread(runs.read_shared, self.database, space.pk)
            if shared.upstream is not None:
                self._shared[space.pk] = (time.monotonic(), shared)
                return shared.upstream
            if shared.state is not RunState.WAKING:
                space.stage = shared.stage
                raise ServiceUnavailable(why_not_running(space), headers={"Retry-After": "5"})
            await asyncio.sleep(WAKE_POLL_S)

    def stage(self, space: Space) -> str:
        if space.upstream is not None and space.stage is SpaceStage.SLEEPING:
            return SpaceStage.RUNNING.value
        return space.stage.value

    def touch(self, space: Space) -> None:
        if self.supervisor.leading:
            self.supervisor.touch(space)
            return
        now = time.monotonic()
        if now - self._visits.get(space.pk, -VISIT_EVERY_S) < VISIT_EVERY_S:
            return
        self._visits[space.pk] = now
        write = asyncio.create_task(asyncio.to_thread(runs.note_visits, self.database, [space.pk]))
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)
