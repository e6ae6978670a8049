"""The notifications page, and the unread count the header shows on every page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import object_session

from hugbox.auth.models import Account
from hugbox.auth.pages import require_user
from hugbox.auth.sessions import PageCaller
from hugbox.deps import SessionDep
from hugbox.notifications import service
from hugbox.web.session import CheckedForm
from hugbox.web.templates import render

router = APIRouter(tags=["pages"])


@router.get("/notifications")
def notifications_page(request: Request, session: SessionDep, caller: PageCaller) -> Response:
    user = require_user(caller)
    notes = service.list_notifications(session, user_pk=user.id)
    return render(request, "notifications/list.html", notes=notes)


@router.post("/notifications/read")
def mark_read(session: SessionDep, caller: PageCaller, form: CheckedForm) -> Response:
    service.mark_all_read(session, user_pk=require_user(caller).id)
    return RedirectResponse("/notifications", status_code=303)


def unread_badge(request: Request, context: dict[str, Any]) -> None:
    """The header's count of unread notes (a `page_context` processor of web.templates)."""
    user = getattr(getattr(request.state, "caller", None), "user", None)
    if not isinstance(user, Account) or "notifications_unread" in context:
        return
    session = object_session(user)
    if session is not None:  # error pages render after the request's transaction: no count
        context["notifications_unread"] = service.count_unread(session, user_pk=user.id)
