"""The shared "load the repo named in the URL, or raise" dependency, with its access check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from hugbox import names
from hugbox.auth import grants
from hugbox.auth.service import Caller, Principal, authenticate
from hugbox.db import Database, Work
from hugbox.deps import CallerDep, SessionDep, bearer_token, caller_of
from hugbox.errors import AuthenticationRequired, HubError, Redirect, RepoNotFound
from hugbox.repos import service
from hugbox.repos.models import Repo, RepoFields, RepoType
from hugbox.repos.service import Moved, Need
from hugbox.urls import base_url


class RepoTypeConvertor(Convertor[RepoType]):
    """`models|datasets|spaces` in /api/ paths."""

    regex = "models|datasets|spaces"

    def convert(self, value: str) -> RepoType:
        return RepoType.from_plural(value)

    def to_string(self, value: RepoType) -> str:
        return f"{value.value}s"


class PrefixTypeConvertor(RepoTypeConvertor):
    """`datasets|spaces` before a repo id in file and git URLs (models have no prefix)."""

    regex = "datasets|spaces"


# Route modules compile their paths when imported, and they import this module first: the
# convertors must be known by then. Registering is idempotent and builds nothing heavy.
register_url_convertor("repotype", RepoTypeConvertor())
register_url_convertor("prefixtype", PrefixTypeConvertor())


def path_repo_type(request: Request) -> RepoType:
    value: Any = request.path_params.get("repo_type", RepoType.MODEL)
    return RepoType(value)


def path_repo_id(request: Request) -> str:
    """`namespace/name` from the URL; a pinned revision (`name@sha`) is not part of the id."""
    return names.repo_id(request.path_params["namespace"], request.path_params["name"])


def path_revision(request: Request, default: str = "main") -> str:
    """The revision pinned with `name@rev` (inference URLs), else `default`."""
    return unquote(request.path_params.get("name", "")).partition("@")[2] or default


def repo_url(request: Request, repo: RepoFields) -> str:
    return f"{base_url(request)}/{repo.type.url_prefix}{repo.repo_id}"


def _moved_location(request: Request, old_id: str, new_id: str) -> str:
    path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    lowered = path.lower()
    start = lowered.find(f"/{old_id.lower()}")
    if start >= 0:
        path = path[:start] + f"/{new_id}" + path[start + 1 + len(old_id) :]
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base_url(request)}{path}{query}"


def load_repo(
    request: Request, session: Session, caller: Principal, need: Need, repo_id: str | None = None
) -> Repo:
    """The repo the URL (or `repo_id`, a model) names, if `caller` may do `need` on it; else
    the error HF gives."""
    repo_type = path_repo_type(request) if repo_id is None else RepoType.MODEL
    repo_id = repo_id or path_repo_id(request)
    found = service.find_repo(session, repo_type, repo_id)
    if found is None:
        raise RepoNotFound(anonymous=caller.anonymous)
    if isinstance(found, Moved):
        # Only someone who may read the repo learns where it went.
        service.authorize(session, caller, found.repo, Need.READ)
        raise Redirect(_moved_location(request, repo_id, found.repo.repo_id))
    # Only a gated repo's 403 names its URL; building it costs as much as the access check.
    url = repo_url(request, found) if found.gated else ""
    service.authorize(session, caller, found, need, repo_url=url)
    request.app.state.repo_hooks.check_access(session, caller, found)
    return found


# git and git-lfs send credentials only after a 401 that offers Basic auth (user: anything,
# password: the token); git-lfs reads LFS-Authenticate first.
BASIC_CHALLENGE = {
    "WWW-Authenticate": 'Basic realm="Authentication required"',
    "LFS-Authenticate": 'Basic realm="Authentication required"',
}


@contextmanager
def asking_for_basic() -> Iterator[None]:
    """git and git-lfs send credentials only once a 401 asks for Basic ones: every 401 raised
    inside says so."""
    try:
        yield
    except HubError as exc:
        if exc.status_code == 401:
            exc.headers.update(BASIC_CHALLENGE)
        raise


def load_repo_for_git(request: Request, session: Session, need: Need) -> tuple[Repo, Caller]:
    """`load_repo` for git and git-lfs clients: each 401 asks for Basic credentials, and writes
    ask for them before anything else (git pushes anonymously first)."""
    with asking_for_basic():
        caller = authenticate(session, bearer_token(request))
        if need in (Need.WRITE, Need.CONTRIBUTE) and caller.anonymous:
            raise AuthenticationRequired()
        return load_repo(request, session, caller, need), caller


@dataclass(frozen=True)
class RepoLoader:
    """The repo the URL names, to load (blocking: from a thread) as `load_repo` checks it, with
    the request's unit of work. The most frequent calls (`model_info`, the HEAD of each
    downloaded file) make this rather than take a loaded repo, and load it in the thread hop
    of their own work: one hop, not two. (They make it themselves: as a dependency, FastAPI's
    solving it cost a sixth of their time on the event loop.) Their caller and repo are read as
    plain rows on one connection (`Work`), with no ORM session unless something asks for it."""

    request: Request
    need: Need

    @contextmanager
    def __call__(self) -> Iterator[tuple[RepoFields, Work]]:
        database: Database = self.request.app.state.database
        with database.work() as work:
            yield self._load(work), work

    def _load(self, work: Work) -> RepoFields:
        repo_type, repo_id = path_repo_type(self.request), path_repo_id(self.request)
        token = bearer_token(self.request)
        if grants.is_grant(token):
            return self._granted(work, str(token), repo_type, repo_id)
        caller, found = service.find_bearer_and_record(work.connection, token, repo_type, repo_id)
        self.request.state.bearer = caller  # who it was, for the access line
        if found is None:  # no such repo, or an old id: `load_repo` answers as it does
            return load_repo(self.request, work.session, caller, self.need)
        url = repo_url(self.request, found) if found.gated else ""
        service.authorize(work.connection, caller, found, self.need, repo_url=url)
        self.request.app.state.repo_hooks.check_access(work.connection, caller, found)
        return found

    def _granted(self, work: Work, token: str, repo_type: RepoType, repo_id: str) -> RepoFields:
        """A service token (`auth.grants`) reads its one repo at its one commit, whoever owns
        it: the hub checked the caller's access when it minted the grant. Anything else is a
        repo it cannot see."""
        grant = grants.read(self.request.app.state.context.secret, token)
        revision = unquote(self.request.path_params.get("revision", ""))
        found = service.find_record(work.connection, repo_type, repo_id)
        if found is None or not grant.covers(repo_type.value, found.repo_id, revision):
            raise RepoNotFound(anonymous=False)
        return found


def _load_repo(request: Request, session: Session, need: Need) -> Repo:
    return load_repo(request, session, caller_of(request, session), need)


def _loader(need: Need) -> Callable[..., Awaitable[Repo]]:
    async def load(request: Request, session: SessionDep) -> Repo:
        # Authentication, the repo's row and the access check: one thread-pool hop.
        return await run_in_threadpool(_load_repo, request, session, need)

    return load


ReadableRepo = Annotated[Repo, Depends(_loader(Need.READ))]
DownloadableRepo = Annotated[Repo, Depends(_loader(Need.DOWNLOAD))]
ContributableRepo = Annotated[Repo, Depends(_loader(Need.CONTRIBUTE))]
WritableRepo = Annotated[Repo, Depends(_loader(Need.WRITE))]


def _listing_caller(request: Request, session: SessionDep, caller: CallerDep) -> Caller:
    return request.app.state.repo_hooks.reader(session, caller)  # type: ignore[no-any-return]


# The caller as a listing of repos outside this domain judges it (collections, likes): a
# stranger to the orgs whose private repos it may not reach although a member (require SSO).
ListingCaller = Annotated[Caller, Depends(_listing_caller)]
