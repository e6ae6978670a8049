"""Tables of the auth domain, and the roles they use."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hugbox.db import Base, UTCDateTime, str_enum, utcnow

# The name of the token behind a browser's session cookie (auth.sessions).
SESSION_TOKEN_NAME = "web session"  # noqa: S105 - a token's display name, not a secret


class AccountKind(StrEnum):
    USER = "user"
    ORG = "org"


class OrgRole(StrEnum):
    """Roles of org members, weakest first (HF's names)."""

    READ = "read"
    CONTRIBUTOR = "contributor"
    WRITE = "write"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(OrgRole).index(self)


class TokenRole(StrEnum):
    READ = "read"
    WRITE = "write"
    FINE_GRAINED = "fineGrained"  # only what its scope lists (auth.scopes)


class Account(Base):
    """A user or an organisation: both own repos and share one namespace of names."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AccountKind] = mapped_column(str_enum(AccountKind, 8))
    name: Mapped[str] = mapped_column(String(96))
    name_lower: Mapped[str] = mapped_column(String(96), unique=True)
    fullname: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        # Loaded on use: only the caller's memberships are ever read, not every owner's.
        foreign_keys="Membership.user_id",
        back_populates="user",
        lazy="select",
    )


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("org_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    role: Mapped[OrgRole] = mapped_column(str_enum(OrgRole))

    org: Mapped[Account] = relationship(foreign_keys=[org_id], lazy="joined")
    user: Mapped[Account] = relationship(foreign_keys=[user_id], back_populates="memberships")


class Token(Base):
    """An access token; only its sha256 is stored, so a leaked database leaks no token."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[TokenRole] = mapped_column(str_enum(TokenRole))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A fine-grained token's permissions, whoami's `fineGrained` object as JSON (auth.scopes).
    scope: Mapped[str | None] = mapped_column(Text, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Written at most once a minute per token and address (auth.usage), not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_used_ip: Mapped[str | None] = mapped_column(String(64), default=None)

    user: Mapped[Account] = relationship(lazy="joined")


class TokenAddress(Base):
    """An address a token was used from; a new one is audited (`token.used_from_new_address`)."""

    __tablename__ = "token_addresses"

    token_id: Mapped[int] = mapped_column(
        ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True
    )
    ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
