"""Requests counted per caller and per repo in daily buckets, for the admin view: each answered
request is noted once (`note_request`, called by the request id middleware with the rest of the
request's observers) into a batch that `usage/batches.py` writes every second.

Who: the user the request authenticated as (a token, or the page's login), else its IP. A route
that never reads its caller (a static asset is not counted at all) counts under the IP. Which
repo: the one its URL names (`namespace`/`name` in the matched route: the API, files, pages,
git, inference), found at write time; a URL naming no repo that exists counts for its caller
only. An org's requests are those of the repos it owns.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.orm.base import instance_state
from starlette.types import Scope

from hugbox import names
from hugbox.plans.limiter import is_exempt
from hugbox.repos.models import Repo, RepoType
from hugbox.usage.batches import Batch, upsert
from hugbox.usage.models import CallerRequestDay, RepoRequestDay

DAY = 86_400
KEPT_DAYS = 30
_LOOKUP_CHUNK = 500
# Where the dependencies leave who the request authenticated as (hugbox.deps, auth.sessions,
# repos.deps), each with a `user_id`.
_CALLER_STATE = ("bearer_caller", "bearer", "caller")


class RequestHit(NamedTuple):  # a tuple: made on every request, the cheapest to build
    day: int  # epoch seconds // 86400
    caller: str  # "u:<user id>" or "ip:<address>"
    repo_type: str | None
    repo_id: str | None  # lower-cased, as `repos.id_lower`


def note_request(batch: Batch[RequestHit], scope: Scope, status: int, seconds: float,
                 sent: int) -> None:  # fmt: skip
    """A request observer (`hugbox.middleware.Observe`): only a dict increment here."""
    if is_exempt(scope["path"]):
        return
    repo_type, repo_id = _repo_of(scope.get("path_params"))
    batch.add(RequestHit(int(time.time()) // DAY, caller_of(scope), repo_type, repo_id))


def caller_of(scope: Scope) -> str:
    state = scope.get("state") or {}
    for key in _CALLER_STATE:
        user_id = _user_id(state.get(key))
        if user_id is not None:
            return f"u:{user_id}"
    client = scope.get("client")
    return f"ip:{client[0] if client else '-'}"


def _user_id(principal: object) -> int | None:
    """A `Bearer`'s user id, or a `Caller`'s from its account's identity: the request's
    session is closed by now, and an account it expired (a rollback) cannot load its `id`."""
    user = getattr(principal, "user", None)
    if user is None:
        return getattr(principal, "user_id", None)
    identity = instance_state(user).key
    return int(identity[1][0]) if identity is not None else None


def _repo_of(params: dict[str, Any] | None) -> tuple[str | None, str | None]:
    if not params or "namespace" not in params or "name" not in params:
        return None, None
    return _repo_key(params.get("repo_type", RepoType.MODEL), params["namespace"], params["name"])


@lru_cache(maxsize=4096)  # the same few repos, again and again: a dict lookup, not a parse
def _repo_key(repo_type: RepoType | str, namespace: str, name: str) -> tuple[str, str]:
    return RepoType(repo_type).value, names.repo_id(namespace, name).lower()


def record_requests(session: Session, hits: Counter[RequestHit]) -> int:
    """Add the batch's counts to the callers' and the repos' days."""
    callers: Counter[tuple[str, date]] = Counter()
    repos: Counter[tuple[str, str, date]] = Counter()
    for hit, count in hits.items():
        day = _date(hit.day)
        callers[(hit.caller, day)] += count
        if hit.repo_type is not None and hit.repo_id is not None:
            repos[(hit.repo_type, hit.repo_id, day)] += count
    for (caller, day), count in callers.items():
        _add(session, CallerRequestDay, {"caller": caller, "day": day}, count)
    pks = _repo_pks(session, {(repo_type, repo_id) for repo_type, repo_id, _ in repos})
    for (repo_type, repo_id, day), count in repos.items():
        if (repo_type, repo_id) in pks:
            _add(session, RepoRequestDay, {"repo_pk": pks[(repo_type, repo_id)], "day": day},
                 count)  # fmt: skip
    return sum(hits.values())


def _add(session: Session, table: type[CallerRequestDay] | type[RepoRequestDay],
         key: dict[str, Any], count: int) -> None:  # fmt: skip
    stmt = upsert(session)(table).values(**key, requests=count)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key), set_={"requests": table.requests + count}
    )
    session.execute(stmt)


def _repo_pks(session: Session, ids: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    wanted = list(ids)
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        chunk = [(RepoType(t), i) for t, i in wanted[start : start + _LOOKUP_CHUNK]]
        rows = session.execute(
            select(Repo.type, Repo.id_lower, Repo.pk).where(
                tuple_(Repo.type, Repo.id_lower).in_(chunk)
            )
        )
        found.update({(repo_type.value, key): pk for repo_type, key, pk in rows})
    return found


def _date(day: int) -> date:
    return datetime.fromtimestamp(day * DAY, UTC).date()


def today() -> date:
    return datetime.now(UTC).date()


def prune(session: Session) -> None:
    """Days older than `KEPT_DAYS` go (the hourly roll-up)."""
    oldest = today() - timedelta(days=KEPT_DAYS - 1)
    session.execute(delete(CallerRequestDay).where(CallerRequestDay.day < oldest))
    session.execute(delete(RepoRequestDay).where(RepoRequestDay.day < oldest))
