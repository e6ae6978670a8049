"""Who may read which part of the audit log, and the query a request's filters make.

An org's admins read the entries of their org (its members, its repos); site admins read the
whole hub. Filters: actor, repo id, action, and a time range (`since`, `until`, ISO 8601)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session
from starlette.requests import Request

from hugbox.audit import AuditQuery
from hugbox.auth import service as auth
from hugbox.auth.models import AccountKind
from hugbox.auth.service import Caller
from hugbox.errors import BadRequest, Forbidden, NotFound

FILTERS = ("actor", "repo", "action", "since", "until", "namespace")


def filters(request: Request) -> dict[str, str | None]:
    """The filters a request names in its query string (the API's and the pages' alike)."""
    return {name: request.query_params.get(name) for name in FILTERS}


def org_query(
    session: Session, caller: Caller, org: str, filters: dict[str, str | None]
) -> AuditQuery:
    """The query of an org's log, if `caller` administers the org (a 404 to others, who must
    not learn which orgs exist through it)."""
    account = auth.find_account(session, org)
    if account is None or account.kind != AccountKind.ORG or not auth.is_org_admin(caller, account):
        raise NotFound(f"No organization audit log for {org!r} that you administer")
    return _query(account.name, filters)


def site_query(caller: Caller, filters: dict[str, str | None]) -> AuditQuery:
    if not caller.is_admin:
        raise Forbidden("Only site admins read the whole hub's audit log")
    return _query(filters.get("namespace") or None, filters)


def _query(namespace: str | None, filters: dict[str, str | None]) -> AuditQuery:
    return AuditQuery(
        namespace=namespace, actor=filters.get("actor") or None, repo=filters.get("repo") or None,
        action=filters.get("action") or None, since=_time(filters.get("since"), "since"),
        until=_time(filters.get("until"), "until"),
    )  # fmt: skip


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"`{name}` must be a date or time in ISO 8601, like 2026-12-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
