"""Gated repo pages: the request form on the repo page, and the admins' review page (pending,
accepted and rejected requests; accept, reject with a reason, grant to a user)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import object_session

from hugbox.auth.models import Account
from hugbox.auth.sessions import PageCaller
from hugbox.deps import SessionDep
from hugbox.errors import BadRequest
from hugbox.gated import service as gated
from hugbox.gated.countries import COUNTRIES
from hugbox.gated.form import GateForm, gate_form
from hugbox.gated.schemas import request_json
from hugbox.repos import access
from hugbox.repos.models import Repo
from hugbox.repos.pages import WritablePageRepo, add_repo_page, repo_path, see_other
from hugbox.web.session import CheckedForm
from hugbox.web.templates import render

router = APIRouter(tags=["pages"])
PAGE_SIZE = 100


@dataclass(frozen=True)
class GateView:
    """What the repo page shows a visitor of a gated repo without its files."""

    form: GateForm
    request: str | None  # the visitor's request status; None: never asked
    countries: tuple[str, ...] = COUNTRIES


def gate_context(request: Request, context: dict[str, Any]) -> None:
    """The form of a gated repo's page (a `page_context` processor of web.templates): read
    from the card the page already shows."""
    repo, caller = context.get("repo"), getattr(request.state, "caller", None)
    if context.get("tab") != "card" or not isinstance(repo, Repo) or not repo.gated:
        return
    session = object_session(repo)
    if session is None or caller is None:
        return
    status = access.request_status(session, caller, repo)
    context["gate"] = GateView(form=gate_form(context.get("card") or {}), request=status)


def _caller_user(caller: PageCaller) -> Account:
    assert caller.user is not None  # WritablePageRepo let only a writer in
    return caller.user


def review_page(
    request: Request, repo: WritablePageRepo, session: SessionDep, status: str = "pending"
) -> Response:
    status = status if status in gated.STATUSES else "pending"
    rows = gated.list_requests(session, repo=repo, status=status, limit=PAGE_SIZE)
    requests = [request_json(grant, user) for grant, user in rows]
    return render(
        request, "gated/requests.html", repo=repo, tab="settings", status=status,
        statuses=gated.STATUSES, requests=requests,
    )  # fmt: skip


def handle_request(
    repo: WritablePageRepo, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    status = str(form.get("status") or "")
    reason = str(form.get("reason") or "").strip() or None
    gated.handle_request(
        session, repo=repo, by=_caller_user(caller), status=status,
        request_id=str(form.get("request_id") or ""),
        reason=reason if status == "rejected" else None,
    )  # fmt: skip
    back = str(form.get("tab") or "pending")
    return see_other(_review_url(repo, back if back in gated.STATUSES else "pending"))


def grant_access(
    repo: WritablePageRepo, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    user = str(form.get("user") or "").strip()
    if not user:
        raise BadRequest("Name the user to give access to")
    gated.grant_access(session, repo=repo, user=user, by=_caller_user(caller))
    return see_other(_review_url(repo, "accepted"))


def _review_url(repo: Repo, status: str) -> str:
    return f"{repo_path(repo)}/access-requests?status={quote(status)}"


add_repo_page(router, "/access-requests", review_page, ("GET",))
add_repo_page(router, "/access-requests/handle", handle_request, ("POST",))
add_repo_page(router, "/access-requests/grant", grant_access, ("POST",))
