"""Reading an access request off `POST /{repo}/ask-access`: who asks (a token, or a logged-in
browser whose form carries its CSRF token) and the form's answers (a JSON object or a form)."""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from hugbox.auth.service import ANONYMOUS, Caller
from hugbox.auth.sessions import page_caller
from hugbox.deps import caller_of
from hugbox.errors import BadRequest, Forbidden
from hugbox.web.csrf import CSRF_FIELD, SESSION_COOKIE
from hugbox.web.session import csrf_token

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def read_answers(request: Request, session: Session) -> tuple[Caller, dict[str, Any]]:
    """A token speaks for itself; a browser's session cookie only with the page's CSRF token."""
    if request.headers.get("authorization"):
        caller = await run_in_threadpool(caller_of, request, session)
        return caller, await _body_answers(request)
    if not request.cookies.get(SESSION_COOKIE):
        return ANONYMOUS, {}  # nothing ambient to forge: the repo's 401 follows
    form = await _form(request)
    sent = str(form.get(CSRF_FIELD) or "")
    if not hmac.compare_digest(sent, csrf_token(request)):
        raise Forbidden("This form has expired or came from another site: reload and try again")
    caller = await run_in_threadpool(page_caller, request, session)
    return caller, {k: v for k, v in _form_answers(form).items() if k != CSRF_FIELD}


async def _body_answers(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        return _form_answers(await _form(request))
    body = await request.body()
    if not body.strip():
        return {}  # HF's programmatic callers send no body at all
    try:
        answers = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("Send the form's answers as a JSON object") from None
    if not isinstance(answers, dict):
        raise BadRequest("Send the form's answers as a JSON object")
    return answers


async def _form(request: Request) -> FormData:
    form = await request.form()
    await form.close()  # answers are text: an uploaded file is refused below
    return form


def _form_answers(form: FormData) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise BadRequest(f"{key[:100]!r}: the form takes text, not files")
        answers[key] = value
    return answers
