"""The audit log over HTTP: a page of entries (newest first, `Link` to the next page), and the
whole filtered log as JSON lines for export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from hugbox import audit
from hugbox.accounts import audit_log
from hugbox.accounts.schemas import AuditEntry
from hugbox.db import Database
from hugbox.deps import CallerDep, SessionDep
from hugbox.urls import base_url
from hugbox.wire import returns

router = APIRouter()
Limit = Annotated[int, Query(ge=1, le=1000)]
Before = Annotated[int | None, Query(ge=1, le=2**62)]


def _page(
    request: Request, response: Response, session: SessionDep, query: audit.AuditQuery,
    before: int | None, limit: int,
) -> list[dict[str, Any]]:  # fmt: skip
    entries = audit.list_entries(session, query, before=before, limit=limit)
    if len(entries) == limit:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "before"]
        query_string = urlencode([*params, ("before", str(entries[-1].id))])
        url = f"{base_url(request)}{request.url.path}?{query_string}"
        response.headers["Link"] = f'<{url}>; rel="next"'
    return [audit.as_json(entry) for entry in entries]


def export(request: Request, query: audit.AuditQuery, name: str) -> StreamingResponse:
    """The whole filtered log as JSON lines, oldest first (also the pages' export link)."""
    database: Database = request.app.state.database

    def lines() -> Iterator[bytes]:
        with database.session() as session:
            yield from audit.export_lines(session, query)

    disposition = f'attachment; filename="{name}-audit-log.jsonl"'
    return StreamingResponse(
        lines(), media_type="application/x-ndjson", headers={"Content-Disposition": disposition}
    )


@router.get("/api/organizations/{org}/audit-log", **returns(list[AuditEntry]))
def org_audit_log(
    request: Request, response: Response, session: SessionDep, caller: CallerDep, org: str,
    before: Before = None, limit: Limit = audit.PAGE,
) -> list[dict[str, Any]]:  # fmt: skip
    query = audit_log.org_query(session, caller, org, audit_log.filters(request))
    return _page(request, response, session, query, before, limit)


@router.get("/api/organizations/{org}/audit-log/export", response_class=StreamingResponse)
def export_org_audit_log(
    request: Request, session: SessionDep, caller: CallerDep, org: str
) -> StreamingResponse:
    query = audit_log.org_query(session, caller, org, audit_log.filters(request))
    return export(request, query, query.namespace or org)


@router.get("/api/admin/audit-log", **returns(list[AuditEntry]))
def site_audit_log(
    request: Request, response: Response, session: SessionDep, caller: CallerDep,
    before: Before = None, limit: Limit = audit.PAGE,
) -> list[dict[str, Any]]:  # fmt: skip
    query = audit_log.site_query(caller, audit_log.filters(request))
    return _page(request, response, session, query, before, limit)


@router.get("/api/admin/audit-log/export", response_class=StreamingResponse)
def export_site_audit_log(request: Request, caller: CallerDep) -> StreamingResponse:
    return export(request, audit_log.site_query(caller, audit_log.filters(request)), "hub")
