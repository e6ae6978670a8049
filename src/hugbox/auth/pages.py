"""Session and token pages: log in, log out, access tokens, and org members."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from hugbox import audit
from hugbox.auth import scopes, service, sessions
from hugbox.auth.models import SESSION_TOKEN_NAME, Account, AccountKind, OrgRole, TokenRole
from hugbox.auth.scopes import Permission
from hugbox.auth.sessions import PageCaller
from hugbox.deps import SessionDep
from hugbox.errors import BadRequest, Forbidden, HubError
from hugbox.web.csrf import SESSION_COOKIE
from hugbox.web.session import CheckedForm
from hugbox.web.templates import render

router = APIRouter(tags=["pages"])


def form_field(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()


def _safe_next(target: str) -> str:
    """Only local paths: `next` must not send a fresh login to another site."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


def see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def start_session(request: Request, session: SessionDep, user: str, next_url: str) -> Response:
    service.delete_old_tokens(
        session, user=service.get_account(session, user), name=SESSION_TOKEN_NAME,
        before=datetime.now(UTC) - sessions.SESSION_MAX_AGE,
    )  # fmt: skip
    token = service.create_token(session, user=user, name=SESSION_TOKEN_NAME, role=TokenRole.WRITE)
    response = see_other(_safe_next(next_url))
    sessions.set_session_cookie(request, response, token)
    return response


@router.get("/login")
def login_page(request: Request, caller: PageCaller, next: str = "/") -> Response:
    return render(request, "login.html", next=_safe_next(next), error=None, username="")


@router.post("/login")
def login(request: Request, session: SessionDep, caller: PageCaller, form: CheckedForm) -> Response:
    username, next_url = form_field(form, "username"), form_field(form, "next")
    client = request.client.host if request.client else "?"
    limiter: sessions.LoginLimiter = request.app.state.login_limiter
    keys = (f"ip:{client}", f"user:{username.lower()}")
    limiter.check(*keys)
    user = service.verify_password(session, name=username, password=str(form.get("password")))
    if user is None or user.kind != AccountKind.USER:
        limiter.fail(*keys)
        audit.record(session, "auth.login_failed", actor=None,
                     namespace=username[:96] or None, method="password")  # fmt: skip
        return render(
            request, "login.html", status_code=401, next=_safe_next(next_url),
            error="Wrong username or password.", username=username,
        )  # fmt: skip
    audit.record(session, "auth.login", actor=user.name, namespace=user.name, method="password")
    return start_session(request, session, user.name, next_url)


@router.post("/logout")
def logout(
    request: Request, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.revoke_token(session, token)
    response = see_other("/")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


class LoginRequired(HubError):
    status_code = 401
    default_message = "Log in to see this page."


def require_user(caller: PageCaller) -> Account:
    if caller.user is None:
        raise LoginRequired()
    return caller.user


# Rows of the form's fine-grained part: each an entity and the permissions on it.
SCOPE_ROWS = 3


def _tokens_page(request: Request, session: SessionDep, user: Account, new: str | None) -> Response:
    tokens = service.list_tokens(session, user=user, exclude_name=SESSION_TOKEN_NAME)
    views = [(token, scopes.load(token.scope) if token.scope else None) for token in tokens]
    return render(
        request, "tokens.html", tokens=views, new_token=new, roles=list(TokenRole),
        permissions=list(Permission), entity_types=scopes.ENTITY_TYPES, rows=range(SCOPE_ROWS),
    )  # fmt: skip


@router.get("/settings/tokens")
def tokens_page(request: Request, session: SessionDep, caller: PageCaller) -> Response:
    return _tokens_page(request, session, require_user(caller), None)


@router.post("/settings/tokens")
def create_token(
    request: Request, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    user = require_user(caller)
    name = form_field(form, "name")
    if not name or name == SESSION_TOKEN_NAME:
        raise BadRequest("Give the token a name (not 'web session').")
    try:
        role = TokenRole(form_field(form, "role") or "read")
    except ValueError:
        raise BadRequest("A token's role is read, write or fineGrained") from None
    scope = _form_scope(form) if role == TokenRole.FINE_GRAINED else None
    plain = service.create_token(session, user=user.name, name=name[:100], role=role,
                                 scope=scope, expires_at=_form_expiry(form))  # fmt: skip
    return _tokens_page(request, session, user, plain)


def _form_scope(form: Any) -> scopes.Scope:
    """The fine-grained part of the form: global permissions, gated repos, and each row's
    entity with the permissions ticked for it (rows without a name are left out)."""
    lines = []
    for row in range(SCOPE_ROWS):
        name = form_field(form, f"entity_name_{row}")
        if name:
            kind, ticked = form_field(form, f"entity_type_{row}"), form.getlist(f"perm_{row}")
            lines.append(f"{kind}:{name}={','.join(str(p) for p in ticked)}")
    glob = [str(p) for p in form.getlist("global")]
    return scopes.from_lines(lines, global_=glob, gated=form.get("gated") == "1")


def _form_expiry(form: Any) -> datetime | None:
    """The last second (UTC) of the day the form names; none: the token never expires."""
    day = form_field(form, "expires")
    if not day:
        return None
    try:
        return datetime.combine(date.fromisoformat(day), time(23, 59, 59), tzinfo=UTC)
    except ValueError:
        raise BadRequest("An expiry date is written YYYY-MM-DD") from None


@router.post("/settings/tokens/{token_id}/delete")
def delete_token(
    session: SessionDep, caller: PageCaller, form: CheckedForm, token_id: int
) -> Response:
    service.delete_token(session, user=require_user(caller), token_id=token_id)
    return see_other("/settings/tokens")


@router.get("/organizations/{org}/members")
def members_page(request: Request, session: SessionDep, caller: PageCaller, org: str) -> Response:
    account = service.get_account(session, org, kind=AccountKind.ORG)
    return render(
        request, "members.html", org=account, members=service.list_members(session, org=account),
        roles=list(OrgRole), can_admin=service.is_org_admin(caller, account),
    )  # fmt: skip


@router.post("/organizations/{org}/members")
def set_member(session: SessionDep, caller: PageCaller, form: CheckedForm, org: str) -> Response:
    account = service.get_account(session, org, kind=AccountKind.ORG)
    if not service.is_org_admin(caller, account):
        raise Forbidden(f"Only admins of {account.name} manage its members")
    user = form_field(form, "user")
    actor = caller.user.name if caller.user else None
    if form.get("remove"):
        service.remove_member(session, org=account.name, user=user, actor=actor)
    else:
        role = OrgRole(form_field(form, "role"))
        service.add_member(session, org=account.name, user=user, role=role, actor=actor)
    return see_other(f"/organizations/{quote(account.name)}/members")
