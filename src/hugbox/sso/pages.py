"""Single sign-on's pages: "Sign in with <org> SSO", the provider's callback, and the org's SSO
settings page for its admins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from hugbox import audit
from hugbox.auth import service as auth
from hugbox.auth import sessions
from hugbox.auth.models import SESSION_TOKEN_NAME, Account, OrgRole, TokenRole
from hugbox.auth.pages import form_field, see_other
from hugbox.auth.sessions import PageCaller
from hugbox.deps import SessionDep
from hugbox.error_responses import error_response
from hugbox.errors import BadRequest, TooManyRequests
from hugbox.ratelimit import RateLimit
from hugbox.sso import oidc, service
from hugbox.sso.models import SsoConfig
from hugbox.sso.oidc import SsoFailed
from hugbox.urls import base_url
from hugbox.web.session import CheckedForm, is_https
from hugbox.web.templates import render

router = APIRouter(tags=["pages"])
STATE_COOKIE = "hugbox_sso_state"


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


def _sso_path(org: Account) -> str:
    return f"/organizations/{quote(org.name)}/sso"


def _redirect_uri(request: Request, org: Account) -> str:
    return f"{base_url(request)}{_sso_path(org)}/callback"


def _secret(request: Request) -> bytes:
    secret: bytes = request.app.state.context.secret
    return secret


@router.get("/organizations/{org}/sso")
def sso_page(
    request: Request, session: SessionDep, caller: PageCaller, org: str, next: str = "/"
) -> Response:
    account = service.get_org(session, org)
    config = service.find_config(session, account)
    return render(
        request,
        "sso/sign_in.html",
        org=account,
        configured=config is not None,
        next=_safe_next(next),
    )


@router.get("/organizations/{org}/sso/login")
def sso_login(request: Request, session: SessionDep, org: str, next: str = "/") -> Response:
    """To the provider, with a fresh state, nonce and PKCE challenge kept for the callback."""
    _count_start(request)
    account = service.get_org(session, org)
    config = service.get_config(session, account)
    with httpx.Client(timeout=oidc.TIMEOUT_S) as client:
        provider = oidc.discover(client, config.issuer)
    challenge = oidc.new_challenge()
    service.start_login(
        session,
        org=account,
        state=challenge.state,
        nonce=challenge.nonce,
        verifier=challenge.code_verifier,
        next_url=_safe_next(next),
    )
    url = oidc.authorization_url(
        provider,
        client_id=config.client_id,
        redirect_uri=_redirect_uri(request, account),
        challenge=challenge,
    )
    response = RedirectResponse(url, status_code=303)
    # Binds the callback to this browser: a state started elsewhere is refused (login CSRF).
    response.set_cookie(
        STATE_COOKIE,
        challenge.state,
        max_age=int(service.LOGIN_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path=_sso_path(account),
    )
    return response


def _count_start(request: Request) -> None:
    """Each start stores a sign-in row and asks the provider: a client that starts too many
    (a script, a flood) gets a 429 until its window has room (`wiring.SSO_STARTS`)."""
    starts: RateLimit = request.app.state.sso_starts
    client = f"ip:{request.client.host if request.client else '?'}"
    if not starts.allows(client):
        raise TooManyRequests("Too many SSO sign-ins started: wait a few minutes and try again")
    starts.hit(client)


@router.get("/organizations/{org}/sso/callback")
def sso_callback(request: Request, session: SessionDep, caller: PageCaller, org: str) -> Response:
    """The provider's answer: a signed-in member with a web session, or a 4xx that says why
    (the failure is audited, so the transaction must commit: it is answered, not raised)."""
    account = service.get_org(session, org)
    try:
        user, next_url = _complete(request, session, account, caller.user)
    except SsoFailed as exc:
        audit.record(
            session,
            "auth.login_failed",
            actor=None,
            namespace=account.name,
            method="sso",
            reason=exc.message[:300],
        )
        return _without_state(error_response(request, exc), account)
    audit.record(session, "auth.login", actor=user.name, namespace=account.name, method="sso")
    return _without_state(_start_session(request, session, user, account, next_url), account)


def _without_state(response: Response, org: Account) -> Response:
    response.delete_cookie(STATE_COOKIE, path=_sso_path(org))
    return response


def _complete(
    request: Request, session: Session, org: Account, current: Account | None
) -> tuple[Account, str]:
    params = request.query_params
    if params.get("error"):
        raise SsoFailed(
            f"The provider refused the sign-in: {params.get('error')} "
            f"{params.get('error_description', '')}".strip()
        )
    state, code = params.get("state", ""), params.get("code", "")
    if not state or not code:
        raise SsoFailed("The provider's answer lacks its state or code")
    if request.cookies.get(STATE_COOKIE) != state:
        raise SsoFailed("This sign-in was not started in this browser: start it again")
    login = service.take_login(session, org=org, state=state)
    if login is None:
        raise SsoFailed("Unknown or expired sign-in state: start the sign-in again")
    config = service.get_config(session, org)
    claims = _claims(
        request, config, org, code=code, nonce=login.nonce, verifier=login.code_verifier
    )
    user = service.sign_in(session, org=org, config=config, claims=claims, current=current)
    return user, login.next_url


def _claims(
    request: Request, config: SsoConfig, org: Account, *, code: str, nonce: str, verifier: str
) -> dict[str, Any]:
    with httpx.Client(timeout=oidc.TIMEOUT_S) as client:
        provider = oidc.discover(client, config.issuer)
        id_token = oidc.exchange_code(
            client,
            provider,
            code=code,
            redirect_uri=_redirect_uri(request, org),
            client_id=config.client_id,
            client_secret=service.client_secret(config, _secret(request)),
            code_verifier=verifier,
        )
        return oidc.verify_id_token(
            client, provider, id_token, client_id=config.client_id, nonce=nonce
        )


def _start_session(
    request: Request, session: Session, user: Account, org: Account, next_url: str
) -> Response:
    auth.delete_old_tokens(
        session,
        user=user,
        name=SESSION_TOKEN_NAME,
        before=datetime.now(UTC) - sessions.SESSION_MAX_AGE,
    )
    plain = auth.create_token(
        session, user=user.name, name=SESSION_TOKEN_NAME, role=TokenRole.WRITE
    )
    token = auth.authenticate(session, plain).token
    assert token is not None
    service.mark_session(session, token=token, org=org)
    response = see_other(_safe_next(next_url))
    sessions.set_session_cookie(request, response, plain)
    return response


@router.get("/organizations/{org}/settings/sso")
def settings_page(request: Request, session: SessionDep, caller: PageCaller, org: str) -> Response:
    account = service.get_org(session, org)
    service.require_admin(caller, account)
    config = service.find_config(session, account)
    return _settings(request, account, config, saved=False)


def _settings(request: Request, org: Account, config: SsoConfig | None, *, saved: bool) -> Response:
    return render(
        request,
        "sso/settings.html",
        org=org,
        config=service.as_json(config) if config else None,
        roles=[r.value for r in OrgRole],
        redirect_uri=_redirect_uri(request, org),
        saved=saved,
    )


@router.post("/organizations/{org}/settings/sso")
def save_settings(
    request: Request, session: SessionDep, caller: PageCaller, form: CheckedForm, org: str
) -> Response:
    account = service.get_org(session, org)
    service.require_admin(caller, account)
    assert caller.user is not None
    config = service.configure(
        session,
        org=account,
        values=_form_values(form),
        actor=caller.user.name,
        server_secret=_secret(request),
    )
    request.app.state.require_sso.forget(account.id)
    return _settings(request, account, config, saved=True)


def _form_values(form: Any) -> service.ConfigInput:
    """The settings form: the mapping is one `value = role` per line."""
    mapping: dict[str, OrgRole] = {}
    for line in form_field(form, "role_mapping").splitlines():
        value, sep, role = line.rpartition("=")
        if line.strip() and not sep:
            raise BadRequest(f"Write each mapping as `claim value = role`, not {line!r}")
        if sep:
            mapping[value.strip()] = _role(role.strip())
    return service.ConfigInput(
        issuer=form_field(form, "issuer"),
        client_id=form_field(form, "client_id"),
        client_secret=form_field(form, "client_secret") or None,
        role_claim=form_field(form, "role_claim"),
        role_mapping=mapping,
        default_role=_role(form_field(form, "default_role") or "read"),
        require_sso=bool(form.get("require_sso")),
    )


def _role(value: str) -> OrgRole:
    try:
        return OrgRole(value)
    except ValueError:
        raise BadRequest(
            f"Unknown role {value!r}: one of read, contributor, write, admin"
        ) from None
