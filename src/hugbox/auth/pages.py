"""Account pages: sign up, log in, log out, profiles, access tokens and org members."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from hugbox.auth import service
from hugbox.auth.models import Account, AccountKind, OrgRole, TokenRole
from hugbox.deps import SessionDep, SettingsDep
from hugbox.errors import BadRequest, Forbidden, HubError
from hugbox.repos import service as repos
from hugbox.repos.models import Repo, RepoType
from hugbox.web import session as web_session
from hugbox.web.csrf import SESSION_COOKIE
from hugbox.web.session import CheckedForm, PageCaller
from hugbox.web.templates import render

router = APIRouter(tags=["pages"])
profile_router = APIRouter(tags=["pages"])


def _field(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()


def _safe_next(target: str) -> str:
    """Only local paths: `next` must not send a fresh login to another site."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


def _see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def _start_session(request: Request, session: SessionDep, user: str, next_url: str) -> Response:
    service.delete_old_tokens(
        session, user=service.get_account(session, user), name=web_session.SESSION_TOKEN_NAME,
        before=datetime.now(UTC) - web_session.SESSION_MAX_AGE,
    )  # fmt: skip
    token = service.create_token(
        session, user=user, name=web_session.SESSION_TOKEN_NAME, role=TokenRole.WRITE
    )
    response = _see_other(_safe_next(next_url))
    web_session.set_session_cookie(request, response, token)
    return response


@router.get("/login")
def login_page(request: Request, caller: PageCaller, next: str = "/") -> Response:
    return render(request, "login.html", next=_safe_next(next), error=None, username="")


@router.post("/login")
def login(request: Request, session: SessionDep, caller: PageCaller, form: CheckedForm) -> Response:
    username, next_url = _field(form, "username"), _field(form, "next")
    client = request.client.host if request.client else "?"
    limiter: web_session.LoginLimiter = request.app.state.login_limiter
    keys = (f"ip:{client}", f"user:{username.lower()}")
    limiter.check(*keys)
    user = service.verify_password(session, name=username, password=str(form.get("password")))
    if user is None or user.kind != AccountKind.USER:
        limiter.fail(*keys)
        return render(
            request, "login.html", status_code=401, next=_safe_next(next_url),
            error="Wrong username or password.", username=username,
        )  # fmt: skip
    return _start_session(request, session, user.name, next_url)


@router.get("/join")
def join_page(request: Request, caller: PageCaller) -> Response:
    return render(request, "join.html", error=None, username="", email="")


@router.post("/join")
def join(request: Request, session: SessionDep, caller: PageCaller, form: CheckedForm) -> Response:
    username, email, password = (
        _field(form, "username"),
        _field(form, "email"),
        form.get("password"),
    )
    try:
        if len(str(password or "")) < 8:
            raise BadRequest("Choose a password of at least 8 characters.")
        repos.check_not_legacy_id(session, username)
        service.create_user(session, name=username, password=str(password), email=email or None)
    except HubError as exc:
        return render(
            request, "join.html", status_code=exc.status_code, error=exc.message,
            username=username, email=email,
        )  # fmt: skip
    return _start_session(request, session, username, f"/{quote(username)}")


@router.post("/logout")
def logout(
    request: Request, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.revoke_token(session, token)
    response = _see_other("/")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


class LoginRequired(HubError):
    status_code = 401
    default_message = "Log in to see this page."


def _require_user(caller: PageCaller) -> Account:
    if caller.user is None:
        raise LoginRequired()
    return caller.user


@router.get("/settings/tokens")
def tokens_page(request: Request, session: SessionDep, caller: PageCaller) -> Response:
    user = _require_user(caller)
    tokens = service.list_tokens(session, user=user, exclude_name=web_session.SESSION_TOKEN_NAME)
    return render(request, "tokens.html", tokens=tokens, new_token=None, roles=list(TokenRole))


@router.post("/settings/tokens")
def create_token(
    request: Request, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    user = _require_user(caller)
    name = _field(form, "name")
    if not name or name == web_session.SESSION_TOKEN_NAME:
        raise BadRequest("Give the token a name (not 'web session').")
    role = TokenRole(_field(form, "role") or "read")
    plain = service.create_token(session, user=user.name, name=name[:100], role=role)
    tokens = service.list_tokens(session, user=user, exclude_name=web_session.SESSION_TOKEN_NAME)
    return render(request, "tokens.html", tokens=tokens, new_token=plain, roles=list(TokenRole))


@router.post("/settings/tokens/{token_id}/delete")
def delete_token(
    session: SessionDep, caller: PageCaller, form: CheckedForm, token_id: int
) -> Response:
    service.delete_token(session, user=_require_user(caller), token_id=token_id)
    return _see_other("/settings/tokens")


@router.get("/organizations/new")
def new_org_page(request: Request, caller: PageCaller) -> Response:
    _require_user(caller)
    return render(request, "new_org.html", error=None, name="")


@router.post("/organizations/new")
def create_org(
    request: Request, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    user = _require_user(caller)
    name = _field(form, "name")
    try:
        repos.check_not_legacy_id(session, name)
        service.create_org(session, name=name, owner=user.name, fullname=_field(form, "fullname"))
    except HubError as exc:
        return render(
            request, "new_org.html", status_code=exc.status_code, error=exc.message, name=name
        )
    return _see_other(f"/organizations/{quote(name)}/members")


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
    user = _field(form, "user")
    if form.get("remove"):
        service.remove_member(session, org=account.name, user=user)
    else:
        service.add_member(session, org=account.name, user=user, role=OrgRole(_field(form, "role")))
    return _see_other(f"/organizations/{quote(account.name)}/members")


def _profile_sections(
    session: SessionDep, caller: PageCaller, account: Account, page_size: int
) -> dict[RepoType, list[Repo]]:
    sections = {}
    for repo_type in RepoType:
        query = repos.RepoQuery(
            repo_type=repo_type, search=[], author=account.name, sort="lastModified"
        )
        sections[repo_type] = repos.list_repos(
            session, caller=caller, query=query, offset=0, page_size=page_size
        )
    return sections


@profile_router.get("/{namespace}")
def profile(
    request: Request,
    session: SessionDep,
    caller: PageCaller,
    settings: SettingsDep,
    namespace: str,
) -> Response:
    account = service.get_account(session, namespace)
    sections = _profile_sections(session, caller, account, settings.list_page_size)
    is_org = account.kind == AccountKind.ORG
    members = service.list_members(session, org=account) if is_org else []
    orgs = [] if is_org else service.list_orgs(session, user=account)
    return render(
        request, "profile.html", account=account, sections=sections, members=members, orgs=orgs
    )
