"""Single sign-on's rules: an org's provider configuration, what a successful sign-in does to
accounts and memberships, and whether a caller satisfies an org's "require SSO"."""

from __future__ import annotations

import re
import secrets as random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.orm import Session

from hugbox import audit
from hugbox.auth import service as auth
from hugbox.auth.models import SESSION_TOKEN_NAME, Account, AccountKind, OrgRole, Token
from hugbox.db import UTCDateTime, utcnow
from hugbox.errors import AuthenticationRequired, BadRequest, Forbidden, NotFound
from hugbox.names import RESERVED_NAMESPACES
from hugbox.sso import secrets
from hugbox.sso.models import SsoConfig, SsoIdentity, SsoLogin, SsoSession

LOGIN_TTL = timedelta(minutes=10)  # from the redirect to the provider to its callback


class SsoRequired(Forbidden):
    """A member's credential did not come through the org's SSO (recently)."""

    error_code = "SsoRequired"

    def __init__(self, org: str):
        super().__init__(
            f"{org} requires single sign-on: sign in with {org} SSO at /organizations/{org}/sso "
            "to reach its private repos"
        )


@dataclass(frozen=True)
class ConfigInput:
    """What an org admin sets; `client_secret` None keeps the stored one."""

    issuer: str
    client_id: str
    client_secret: str | None
    role_claim: str = "groups"
    role_mapping: dict[str, OrgRole] | None = None
    default_role: OrgRole = OrgRole.READ
    require_sso: bool = False


def get_org(session: Session, org: str) -> Account:
    return auth.get_account(session, org, kind=AccountKind.ORG)


def require_admin(caller: auth.Caller, org: Account) -> None:
    if caller.anonymous:
        raise AuthenticationRequired(f"Log in as an admin of {org.name} to configure its SSO")
    if not auth.is_org_admin(caller, org):
        raise Forbidden(f"Only admins of {org.name} configure its single sign-on")


def find_config(session: Session, org: Account) -> SsoConfig | None:
    return session.get(SsoConfig, org.id)


def get_config(session: Session, org: Account) -> SsoConfig:
    config = find_config(session, org)
    if config is None:
        raise NotFound(f"{org.name} has no single sign-on configured")
    return config


def _check_url(issuer: str) -> str:
    if not re.match(r"^https?://[^\s/]+", issuer):
        raise BadRequest(
            "The issuer must be an http(s) URL, e.g. https://login.example.com/realms/acme"
        )
    return issuer


def configure(
    session: Session, *, org: Account, values: ConfigInput, actor: str, server_secret: bytes
) -> SsoConfig:
    """Create or replace the org's provider; audited without the secret."""
    config = find_config(session, org)
    if config is None and not values.client_secret:
        raise BadRequest("A client secret is needed the first time single sign-on is set up")
    if config is None:
        config = SsoConfig(org_id=org.id)
        session.add(config)
    config.issuer, config.client_id = _check_url(values.issuer.strip()), values.client_id.strip()
    if not config.client_id:
        raise BadRequest("The client id must not be empty")
    if values.client_secret:
        config.client_secret = secrets.seal(server_secret, values.client_secret)
    config.role_claim = values.role_claim.strip() or "groups"
    config.role_mapping = {k: v.value for k, v in (values.role_mapping or {}).items()}
    config.default_role, config.require_sso = values.default_role, values.require_sso
    config.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        "sso.configured",
        actor=actor,
        namespace=org.name,
        issuer=config.issuer,
        client_id=config.client_id,
        require_sso=config.require_sso,
        secret_changed=bool(values.client_secret),
    )
    return config


def remove(session: Session, *, org: Account, actor: str) -> None:
    """Turn the org's single sign-on off: its provider, and the sign-ins under way, are gone;
    members keep their accounts and roles (and sign in with a password or a token)."""
    config = get_config(session, org)
    session.execute(delete(SsoLogin).where(SsoLogin.org_id == org.id))
    session.delete(config)
    session.flush()
    audit.record(session, "sso.removed", actor=actor, namespace=org.name, issuer=config.issuer)


def client_secret(config: SsoConfig, server_secret: bytes) -> str:
    return secrets.unseal(server_secret, config.client_secret)


def as_json(config: SsoConfig) -> dict[str, Any]:
    """What the settings page and API show: everything but the secret."""
    return {
        "issuer": config.issuer,
        "clientId": config.client_id,
        "clientSecretSet": True,
        "roleClaim": config.role_claim,
        "roleMapping": dict(config.role_mapping),
        "defaultRole": config.default_role.value,
        "requireSso": config.require_sso,
        "updatedAt": config.updated_at.isoformat().replace("+00:00", "Z"),
    }


def start_login(
    session: Session, *, org: Account, state: str, nonce: str, verifier: str, next_url: str
) -> None:
    cutoff = utcnow() - LOGIN_TTL
    for stale in session.scalars(select(SsoLogin).where(SsoLogin.created_at < cutoff)):
        session.delete(stale)
    session.add(
        SsoLogin(state=state, org_id=org.id, nonce=nonce, code_verifier=verifier, next_url=next_url)
    )
    session.flush()


def take_login(session: Session, *, org: Account, state: str) -> SsoLogin | None:
    """The sign-in `state` names, once: a replayed or foreign state finds nothing."""
    login = session.get(SsoLogin, state)
    if login is None or login.org_id != org.id:
        return None
    session.delete(login)
    session.flush()
    created = login.created_at.replace(tzinfo=login.created_at.tzinfo or UTC)
    return login if datetime.now(UTC) - created < LOGIN_TTL else None


def mapped_role(config: SsoConfig, claims: dict[str, Any]) -> OrgRole:
    """The strongest role the claim's values map to; none mapped is the default role."""
    value = claims.get(config.role_claim)
    values = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    roles = [OrgRole(config.role_mapping[v]) for v in values if v in config.role_mapping]
    return max(roles, key=lambda role: role.rank, default=config.default_role)


def _username_base(claims: dict[str, Any]) -> str:
    """`preferred_username` (else the email's local part, else the subject) as a hub name."""
    raw = str(
        claims.get("preferred_username")
        or str(claims.get("email") or "").partition("@")[0]
        or claims["sub"]
    )
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", raw)
    name = re.sub(r"[-.]{2,}", "-", name).strip("-._")[:80] or "user"
    return name if name.lower() not in RESERVED_NAMESPACES else f"{name}-user"


def _unique_name(session: Session, base: str) -> str:
    name = base
    while auth.find_account(session, name) is not None:
        name = f"{base}-{random.randbelow(10_000):04d}"
    return name


def _new_user(session: Session, claims: dict[str, Any]) -> Account:
    name = _unique_name(session, _username_base(claims))
    email = claims.get("email") if claims.get("email_verified", True) else None
    # A random password nobody knows, then none: this account signs in through its provider.
    user = auth.create_user(
        session,
        name=name,
        password=random.token_urlsafe(32),
        email=email if isinstance(email, str) else None,
    )
    user.password_hash = None
    user.fullname = str(claims.get("name") or name)[:200]
    return user


def sign_in(
    session: Session, *, org: Account, config: SsoConfig, claims: dict[str, Any],
    current: Account | None = None,
) -> Account:  # fmt: skip
    """The account (issuer, sub) stands for, a member of the org with the role the claim maps to
    (set again each time). A first sign-in links the identity to `current`, the user already
    signed in on this browser (their password account), else creates an account: never by
    email, which would hand an existing account to whoever the provider calls by that address."""
    identity = session.scalar(
        select(SsoIdentity).where(
            SsoIdentity.issuer == config.issuer, SsoIdentity.subject == str(claims["sub"])
        )
    )
    if identity is None:
        user = current if current is not None else _new_user(session, claims)
        identity = SsoIdentity(
            issuer=config.issuer, subject=str(claims["sub"]), user_id=user.id, org_id=org.id
        )
        session.add(identity)
    user = session.get_one(Account, identity.user_id)
    identity.last_login_at = utcnow()
    auth.add_member(
        session,
        org=org.name,
        user=user.name,
        role=mapped_role(config, claims),
        actor=user.name,
        via="sso",
    )
    session.flush()
    return user


def mark_session(session: Session, *, token: Token, org: Account) -> None:
    """The web session `token` came through `org`'s SSO."""
    session.add(SsoSession(token_id=token.id, org_id=org.id))
    session.flush()


# Require SSO -----------------------------------------------------------------------------------


# Built once: they run on the most frequent routes' access checks, where building a select
# costs as much as running it.
_CONFIGS, _SESSIONS, _IDENTITIES = (
    SsoConfig.__table__,
    SsoSession.__table__,
    SsoIdentity.__table__,
)
_REQUIRES_SSO = select(_CONFIGS.c.require_sso).where(_CONFIGS.c.org_id == bindparam("org_id"))
_SSO_SESSION = select(_SESSIONS.c.token_id).where(
    _SESSIONS.c.token_id == bindparam("token_id"), _SESSIONS.c.org_id == bindparam("org_id"),
    _SESSIONS.c.created_at >= bindparam("since", type_=UTCDateTime),
)  # fmt: skip
_SSO_SIGN_IN = (
    select(_IDENTITIES.c.id)
    .where(
        _IDENTITIES.c.user_id == bindparam("user_id"),
        _IDENTITIES.c.org_id == bindparam("org_id"),
        _IDENTITIES.c.last_login_at >= bindparam("since", type_=UTCDateTime),
    )
    .limit(1)
)


def requires_sso(db: Session | Connection, org_id: int) -> bool:
    return bool(db.scalar(_REQUIRES_SSO, {"org_id": org_id}))


def satisfied(
    db: Session | Connection, *, org_id: int, user_id: int, token: Token | None,
    max_age: timedelta,
) -> bool:  # fmt: skip
    """Whether a member's credential passes the org's "require SSO": a web session must itself
    have come through the org's SSO, within `max_age`; an access token (or a credential read
    without its token: `Bearer`) needs its user to have signed in through it within `max_age`."""
    since = datetime.now(UTC) - max_age
    if token is not None and token.name == SESSION_TOKEN_NAME:
        params = {"token_id": token.id, "org_id": org_id, "since": since}
        return db.scalar(_SSO_SESSION, params) is not None
    params = {"user_id": user_id, "org_id": org_id, "since": since}
    return db.scalar(_SSO_SIGN_IN, params) is not None
