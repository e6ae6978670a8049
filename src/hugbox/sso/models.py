"""Tables of single sign-on: an org's provider, the identities it vouched for, the sessions it
opened and the sign-ins under way."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hugbox.auth.models import OrgRole
from hugbox.db import Base, UTCDateTime, str_enum, utcnow


class SsoConfig(Base):
    """An org's OIDC provider. The client secret is stored encrypted with the server secret
    (`sso.secrets`) and never shown back."""

    __tablename__ = "sso_configs"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(500))
    client_secret: Mapped[str] = mapped_column(Text)  # Fernet token
    role_claim: Mapped[str] = mapped_column(String(100), default="groups")
    # {claim value: org role}: the strongest role of the values a member's claim holds wins.
    role_mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    default_role: Mapped[OrgRole] = mapped_column(str_enum(OrgRole), default=OrgRole.READ)
    require_sso: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SsoIdentity(Base):
    """The account an (issuer, subject) signs in as: a later sign-in finds the same one."""

    __tablename__ = "sso_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    last_login_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SsoSession(Base):
    """A web session (its token) opened by an org's SSO: what "require SSO" looks for."""

    __tablename__ = "sso_sessions"

    token_id: Mapped[int] = mapped_column(
        ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SsoLogin(Base):
    """A sign-in under way: what the callback must find (state), check (nonce) and send back
    (the PKCE verifier). Used once, then deleted."""

    __tablename__ = "sso_logins"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_url: Mapped[str] = mapped_column(String(1000), default="/")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
