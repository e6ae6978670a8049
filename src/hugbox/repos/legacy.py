"""Legacy repo ids without a namespace (`gpt2`, `squad`): rewritten to their canonical id.

HF serves `gpt2` as `openai-community/gpt2`. Legacy names can never be account names, so a
single segment that is a known legacy id is unambiguous wherever a repo id stands in a URL.
`hugbox import DIR gpt2` stores the repo as `legacy/gpt2` (`LEGACY_NAMESPACE`) and makes `gpt2`
a legacy id leading to it. An unknown single segment where a repo id stands is RepoNotFound.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Router
from starlette.types import Receive, Scope, Send

from hugbox.auth.models import Account, AccountKind
from hugbox.auth.service import create_org, find_account
from hugbox.error_responses import error_response
from hugbox.errors import Conflict, NotFound, RepoNotFound
from hugbox.names import RESERVED_NAMESPACES, check_name
from hugbox.repos.models import Repo, RepoRedirect, RepoType
from hugbox.repos.service import Moved, find_repo
from hugbox.web.csrf import SESSION_COOKIE

# The org that holds the repos imported under a single-segment id, as `openai-community` holds
# `gpt2` on HF; created on first use.
LEGACY_NAMESPACE = "legacy"

# Where a repo id stands: /api/models/<id>, /datasets/<id>, /<id> (models), the inference
# routes /models/<id>[@rev] and /pipeline/<task>/<id>, each followed by the rest of the path.
_PATTERNS = [
    (re.compile(r"^/api/(models|datasets|spaces)/([^/]+)(?=/|$)"), 2),
    (re.compile(r"^/(?:models|pipeline/[^/]+)/()([^/@]+)(?=[/@]|$)"), 2),
    (re.compile(r"^/(datasets|spaces)/([^/]+?)(?=\.git(?:/|$)|/|$)"), 2),
    (re.compile(r"^/()([^/]+?)(?=\.git(?:/|$)|/|$)"), 2),
]


def load_legacy_ids(session: Session) -> dict[tuple[str, str], str]:
    """{(type plural, legacy id lowercased): canonical id} for every namespace-less redirect."""
    rows = session.execute(
        select(RepoRedirect.type, RepoRedirect.old_id_lower, Repo.namespace, Repo.name)
        .join(Repo, Repo.pk == RepoRedirect.repo_pk)
        .where(RepoRedirect.old_id_lower.not_like("%/%"))
    )
    return {(f"{RepoType(t).value}s", old): f"{ns}/{name}" for t, old, ns, name in rows}


class LegacyIds:
    """The table of legacy ids, reloaded at most every `ttl` seconds (other replicas may add)."""

    def __init__(self, load: Callable[[], dict[tuple[str, str], str]], ttl: float = 5.0):
        self._load = load
        self._ttl = ttl
        self._table: dict[tuple[str, str], str] = {}
        self._loaded_at = float("-inf")

    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self._ttl

    def reload(self) -> None:
        self._table = self._load()
        self._loaded_at = time.monotonic()

    def rewrite(self, path: str) -> str:
        if not self._table:
            return path
        for pattern, group in _PATTERNS:
            match = pattern.match(path)
            if match is None:
                continue
            kind = match[1] or "models"
            canonical = self._table.get((kind, match[group].lower()))
            if canonical:
                return path[: match.start(group)] + canonical + path[match.end(group) :]
            return path
        return path


def claim_legacy_id(session: Session, *, repo_type: RepoType, legacy_id: str) -> str:
    """The canonical id `hugbox import DIR <legacy_id>` stores the repo under; raise Conflict
    when the single segment already means something else."""
    check_name(legacy_id, what="repo")
    if legacy_id.lower() in RESERVED_NAMESPACES:
        raise Conflict(f"{legacy_id!r} is a word of the URL map and cannot be a repo id")
    if find_account(session, legacy_id) is not None:
        raise Conflict(f"{legacy_id!r} is an account name and cannot be a legacy repo id")
    canonical = f"{_legacy_org(session).name}/{legacy_id}"
    found = find_repo(session, repo_type, legacy_id)
    if isinstance(found, Moved) and found.repo.id_lower != canonical.lower():
        raise Conflict(
            f"{legacy_id!r} already leads to {found.repo.repo_id}: import into that id instead"
        )
    return canonical


def _legacy_org(session: Session) -> Account:
    """LEGACY_NAMESPACE, created with the first site admin as its admin (imports commit as an
    admin of the org). An operator may create it first to choose who that is."""
    org = find_account(session, LEGACY_NAMESPACE)
    if org is not None and org.kind is AccountKind.ORG:
        return org
    if org is not None:
        raise Conflict(
            f"Single-segment ids live in the org {LEGACY_NAMESPACE!r}, but a user has that name"
        )
    admin = session.scalar(
        select(Account)
        .where(Account.kind == AccountKind.USER, Account.is_admin)
        .order_by(Account.id)
    )
    if admin is None:
        raise NotFound(
            f"Single-segment ids live in the org {LEGACY_NAMESPACE!r}, which needs an admin: "
            "create a site admin (`hugbox user create NAME --admin`) or the org first "
            f"(`hugbox org create {LEGACY_NAMESPACE} --owner USER`)"
        )
    return create_org(session, name=LEGACY_NAMESPACE, owner=admin.name)


def install_repo_not_found(app: FastAPI) -> None:
    """RepoNotFound where only a single-segment id kept a request from its route, so clients
    say "not a valid model identifier" for `/gpt-2-typo/resolve/main/config.json` instead of
    a bare 404, and `POST /models/gpt-2-typo` is not a 405 from the page `/{namespace}/{name}`.
    Call after the error handlers are installed."""
    router = app.router
    fallback = router.default
    rendered = app.exception_handlers[HTTPException]

    async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _names_single_id(router, scope):
            raise RepoNotFound(anonymous=_anonymous(scope))
        await fallback(scope, receive, send)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405 and _names_single_id(router, request.scope, exact=True):
            request.scope.pop("route", None)  # the page it met is no answer: no HTML error page
            return error_response(request, RepoNotFound(anonymous=_anonymous(request.scope)))
        answer = rendered(request, exc)
        return answer if isinstance(answer, Response) else await answer

    router.default = not_found
    app.add_exception_handler(HTTPException, not_allowed)


def _names_single_id(router: Router, scope: Scope, *, exact: bool = False) -> bool:
    path: str = scope["path"]
    for pattern, group in _PATTERNS:
        match = pattern.match(path)
        if match is None:
            continue
        if match[group].lower() in RESERVED_NAMESPACES:
            return False
        # Any namespace in front of the segment: routing looks at the shape only.
        probe_path = f"{path[: match.start(group)]}_/{path[match.start(group) :]}"
        probe = {k: v for k, v in scope.items() if k != "fastapi"}
        probe.update(path=probe_path, raw_path=probe_path.encode("latin-1"))
        wanted = (Match.FULL,) if exact else (Match.FULL, Match.PARTIAL)
        return any(route.matches(probe)[0] in wanted for route in router.routes)
    return False


def _anonymous(scope: Scope) -> bool:
    """HF answers a missing repo with 401 to anonymous callers, 404 to signed-in ones."""
    headers = dict(scope["headers"])
    cookies = headers.get(b"cookie", b"").decode("latin-1")
    return b"authorization" not in headers and f"{SESSION_COOKIE}=" not in cookies
