"""SSO's rules on a real SQLite database: role mapping, names from claims, one-use sign-in
state, the sealed secret, and "require SSO" for web sessions, tokens and site admins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from builders import Builder
from sqlalchemy.orm import Session

from hugbox import audit
from hugbox.auth import service as auth
from hugbox.auth.models import SESSION_TOKEN_NAME, Account, OrgRole, TokenRole
from hugbox.errors import BadRequest
from hugbox.sso import secrets, service
from hugbox.sso.access import RequireSso
from hugbox.sso.models import SsoConfig
from hugbox.sso.service import ConfigInput, SsoRequired

KEY = b"server-secret"
ISSUER = "https://idp.example.com/realms/acme"


def _configure(
    session: Session, build: Builder, *, require: bool = False
) -> tuple[Account, SsoConfig]:
    admin = build.user("ada")
    org = build.org("acme", owner=admin)
    values = ConfigInput(
        ISSUER,
        "hub",
        "s3cret",
        "groups",
        {"admins": OrgRole.ADMIN, "eng": OrgRole.WRITE},
        OrgRole.READ,
        require,
    )
    config = service.configure(session, org=org, values=values, actor="ada", server_secret=KEY)
    return org, config


def test_the_strongest_mapped_role_wins_and_none_is_the_default(
    session: Session, build: Builder
) -> None:
    _, config = _configure(session, build)
    assert service.mapped_role(config, {"groups": ["eng", "admins"]}) == OrgRole.ADMIN
    assert service.mapped_role(config, {"groups": "eng"}) == OrgRole.WRITE
    assert service.mapped_role(config, {"groups": ["other"]}) == OrgRole.READ
    assert service.mapped_role(config, {}) == OrgRole.READ


def test_the_secret_is_sealed_and_never_shown(session: Session, build: Builder) -> None:
    _, config = _configure(session, build)
    assert "s3cret" not in config.client_secret and "s3cret" not in str(service.as_json(config))
    assert service.client_secret(config, KEY) == "s3cret"
    with pytest.raises(secrets.SecretUnreadable):
        service.client_secret(config, b"another key")
    entry = session.query(audit.AuditEntry).filter_by(action="sso.configured").one()
    assert "s3cret" not in str(entry.data)


def test_names_come_from_preferred_username_made_valid_and_unique(
    session: Session, build: Builder
) -> None:
    org, config = _configure(session, build)
    build.user("jo-smith")
    first = service.sign_in(
        session, org=org, config=config, claims={"sub": "1", "preferred_username": "Jo Smith"}
    )
    assert first.name == "Jo-Smith-user" or first.name.startswith("Jo-Smith-")
    assert first.password_hash is None
    again = service.sign_in(session, org=org, config=config, claims={"sub": "1"})
    assert again.id == first.id
    odd = service.sign_in(
        session, org=org, config=config, claims={"sub": "2", "preferred_username": "..--"}
    )
    assert odd.name.startswith("user")


def test_a_sign_in_state_is_used_once(session: Session, build: Builder) -> None:
    org, _ = _configure(session, build)
    service.start_login(session, org=org, state="st", nonce="n", verifier="v", next_url="/")
    assert service.take_login(session, org=org, state="st") is not None
    assert service.take_login(session, org=org, state="st") is None


def test_a_malformed_issuer_is_refused(session: Session, build: Builder) -> None:
    org, _ = _configure(session, build)
    with pytest.raises(BadRequest):
        service.configure(
            session,
            org=org,
            values=ConfigInput("ftp://x", "hub", None),
            actor="ada",
            server_secret=KEY,
        )


def test_require_sso_asks_a_session_or_a_tokens_user_to_have_come_through_it(
    session: Session, build: Builder
) -> None:
    org, config = _configure(session, build, require=True)
    member, root = build.user("mo"), build.user("root", admin=True)
    auth.add_member(session, org="acme", user="mo", role=OrgRole.READ)
    ada = auth.get_account(session, "ada")
    repo = build.repo(ada, "secret", namespace="acme", private=True)
    check = RequireSso(max_age=timedelta(hours=1)).check_repo
    with pytest.raises(SsoRequired):
        check(session, build.caller(member), repo)
    check(session, build.caller(root), repo)  # a site admin
    check(session, build.caller(build.user("stranger")), repo)  # the repo's own rules refuse
    service.sign_in(session, org=org, config=config, claims={"sub": "mo"}, current=member)
    check(session, build.caller(member), repo)  # a token: its user signed in through SSO
    plain = auth.create_token(session, user="mo", name=SESSION_TOKEN_NAME, role=TokenRole.WRITE)
    web = auth.authenticate(session, plain)
    with pytest.raises(SsoRequired):
        check(session, web, repo)  # a session that did not come through SSO
    assert web.token is not None
    service.mark_session(session, token=web.token, org=org)
    check(session, web, repo)
