"""Accounts, memberships and tokens: create them, and turn a bearer token into a caller."""

from __future__ import annotations

import hashlib
import logging
import secrets
import string
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.orm import Session

from hugbox import audit
from hugbox.auth import last_use, scopes
from hugbox.auth.models import (
    SESSION_TOKEN_NAME,
    Account,
    AccountKind,
    Membership,
    OrgRole,
    Token,
    TokenRole,
)  # fmt: skip
from hugbox.auth.scopes import Permission, Scope, Target
from hugbox.errors import BadRequest, Conflict, Forbidden, InvalidCredentials, NotFound
from hugbox.names import check_namespace

_hasher = PasswordHasher()

log = logging.getLogger(__name__)


class Principal(Protocol):
    """What the access checks read of a caller: a `Caller`, or a `Bearer` read without the ORM."""

    @property
    def anonymous(self) -> bool: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def is_admin(self) -> bool: ...
    @property
    def token_role(self) -> str | None: ...
    @property
    def scope(self) -> Scope | None: ...
    def allows(self, permission: str, target: Target | None) -> bool: ...
    def org_role(self, org_id: int) -> OrgRole | None: ...


@dataclass(frozen=True)
class Caller:
    """Who is asking: a user (through a token of some role) or nobody."""

    user: Account | None = None
    token: Token | None = None

    @property
    def anonymous(self) -> bool:
        return self.user is None

    @property
    def user_id(self) -> int | None:
        return None if self.user is None else self.user.id

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.is_admin

    @property
    def token_role(self) -> str | None:
        return None if self.token is None else self.token.role.value

    @property
    def scope(self) -> Scope | None:
        token = self.token
        return scopes.load(token.scope) if token is not None and token.scope else None

    def allows(self, permission: str, target: Target | None) -> bool:
        """Whether the credential allows `permission` on `target`, whatever its user may do."""
        return scopes.token_allows(self.token_role, self.scope, permission, target)

    def org_role(self, org_id: int) -> OrgRole | None:
        if self.user is None:
            return None
        return next((m.role for m in self.user.memberships if m.org_id == org_id), None)

    def without_orgs(self, org_ids: Collection[int]) -> Caller:
        """This caller as a stranger to `org_ids` (orgs whose "require SSO" it has not met):
        what it lists leaves out what only their members see."""
        return _OutsideOrgs(self.user, self.token, frozenset(org_ids)) if org_ids else self


@dataclass(frozen=True)
class _OutsideOrgs(Caller):
    outside: frozenset[int] = frozenset()

    def org_role(self, org_id: int) -> OrgRole | None:
        return None if org_id in self.outside else super().org_role(org_id)


ANONYMOUS = Caller()


def require(caller: Principal, permission: str, target: Target | None, action: str) -> None:
    """The token must allow `permission` on `target`, whatever its user may do: a read token
    only reads (HF's rule: a pull request or a discussion needs a write token), a fine-grained
    token does only what it lists."""
    if caller.allows(permission, target):
        return
    if caller.token_role == TokenRole.READ:
        raise Forbidden(
            f"You don't have the rights to {action}: this is a read token, use a write token"
        )
    raise Forbidden(
        f"You don't have the rights to {action}: this fine-grained token lacks `{permission}`"
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_account(session: Session, name: str) -> Account | None:
    return session.scalar(select(Account).where(Account.name_lower == name.lower()))


def get_account(session: Session, name: str, *, kind: AccountKind | None = None) -> Account:
    account = find_account(session, name)
    if account is None or (kind and account.kind != kind):
        raise NotFound(f"No {kind.value if kind else 'account'} named {name!r}")
    return account


def _new_account(session: Session, *, name: str, kind: AccountKind, **fields: object) -> Account:
    check_namespace(name)
    if find_account(session, name) is not None:
        raise Conflict(f"The name {name!r} is already taken")
    account = Account(name=name, name_lower=name.lower(), kind=kind, **fields)
    session.add(account)
    session.flush()
    return account


def create_user(
    session: Session, *, name: str, password: str, is_admin: bool = False, email: str | None = None
) -> Account:
    return _new_account(
        session,
        name=name,
        kind=AccountKind.USER,
        fullname=name,
        email=email,
        is_admin=is_admin,
        password_hash=_hasher.hash(password),
    )


def verify_password(session: Session, *, name: str, password: str) -> Account | None:
    user = find_account(session, name)
    if user is None or user.password_hash is None:
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except VerificationError:
        return None
    return user


def create_org(session: Session, *, name: str, owner: str, fullname: str = "") -> Account:
    owner_account = get_account(session, owner, kind=AccountKind.USER)
    org = _new_account(session, name=name, kind=AccountKind.ORG, fullname=fullname or name)
    session.add(Membership(org_id=org.id, user_id=owner_account.id, role=OrgRole.ADMIN))
    return org


def _membership(session: Session, org: Account, user: Account) -> Membership | None:
    return session.scalar(
        select(Membership).where(Membership.org_id == org.id, Membership.user_id == user.id)
    )


def add_member(
    session: Session, *, org: str, user: str, role: OrgRole, actor: str | None = None,
    via: str | None = None,
) -> Membership:  # fmt: skip
    """Add `user` to `org`, or change their role; `actor` None is the hub's operator (CLI).
    `via` names what decided it when no admin did (`sso`: the org's provider's role claim)."""
    org_account = get_account(session, org, kind=AccountKind.ORG)
    user_account = get_account(session, user, kind=AccountKind.USER)
    membership = _membership(session, org_account, user_account)
    old = None if membership is None else membership.role.value
    if membership is None:
        membership = Membership(org_id=org_account.id, user_id=user_account.id, role=role)
        session.add(membership)
    membership.role = role
    session.flush()
    if old != role.value:
        action = "org.member_add" if old is None else "org.member_role"
        extra: dict[str, Any] = {"via": via} if via else {}
        audit.record(session, action, actor=actor, namespace=org_account.name,
                     member=user_account.name, role=[old, role.value], **extra)  # fmt: skip
    return membership


def create_token(
    session: Session, *, user: str, name: str, role: TokenRole, scope: Scope | None = None,
    expires_at: datetime | None = None,
) -> str:  # fmt: skip
    """Create a token and return it; this is the only time its plain text exists. A
    fine-grained token needs its `scope`; other roles take none."""
    if (role == TokenRole.FINE_GRAINED) != (scope is not None):
        raise BadRequest("A fine-grained token needs its permissions; other roles take none")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise BadRequest("A token's expiry date must be in the future")
    account = get_account(session, user, kind=AccountKind.USER)
    plain = "hf_" + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(34))
    token = Token(user_id=account.id, name=name, role=role, token_hash=hash_token(plain),
                  scope=scopes.dump(scope) if scope else None, expires_at=expires_at)  # fmt: skip
    session.add(token)
    session.flush()
    if name != SESSION_TOKEN_NAME:  # a browser's session is audited as its sign-in
        audit.record(session, "token.create", actor=account.name, namespace=account.name,
                     token=name, token_id=token.id, role=role.value,
                     scope=scope.as_json() if scope else None)  # fmt: skip
    return plain


_TOKEN_ALPHABET = string.ascii_letters + string.digits


# Built once: every request authenticates, and building a select costs as much as running it.
_TOKEN_BY_HASH = select(Token).where(Token.token_hash == bindparam("token_hash"))


def authenticate(session: Session, token: str | None) -> Caller:
    """The caller a bearer token stands for; no token is anonymous, a bad one is an error."""
    if not token:
        return ANONYMOUS
    row = session.scalar(_TOKEN_BY_HASH, {"token_hash": hash_token(token)})
    if row is None:
        raise InvalidCredentials()
    check_expiry(row.expires_at)
    last_use.note(row.id)
    return Caller(user=row.user, token=row)


class ExpiredToken(InvalidCredentials):
    default_message = (
        "Invalid credentials in Authorization header: this token has expired; "
        "create a new one at /settings/tokens"
    )


def check_expiry(expires_at: datetime | None) -> None:
    """An expired token is the 401 of any bad token (what every client understands), with a
    message that says why and where to make a new one."""
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise ExpiredToken()


@dataclass(frozen=True, slots=True)
class Bearer:
    """The caller a bearer token stands for, as plain values: what the most frequent read
    routes need to check access, read in one Core statement (no ORM objects to build)."""

    user_id: int | None = None
    is_admin: bool = False
    token_role: str | None = None
    roles: tuple[tuple[int, OrgRole], ...] = ()  # (org id, role) of each of the user's orgs
    token_id: int | None = None
    scope: Scope | None = None  # a fine-grained token's

    @property
    def anonymous(self) -> bool:
        return self.user_id is None

    def allows(self, permission: str, target: Target | None) -> bool:
        return scopes.token_allows(self.token_role, self.scope, permission, target)

    def org_role(self, org_id: int) -> OrgRole | None:
        return next((role for org, role in self.roles if org == org_id), None)


_TOKENS, _ACCOUNTS, _MEMBERSHIPS = Token.__table__, Account.__table__, Membership.__table__
# The token's user with their memberships (one row each, or one with none), built once.
BEARER_BY_HASH = (
    select(
        _ACCOUNTS.c.id,
        _ACCOUNTS.c.is_admin,
        _TOKENS.c.role,
        _MEMBERSHIPS.c.org_id,
        _MEMBERSHIPS.c.role.label("org_role"),
        _TOKENS.c.id.label("token_id"),
        _TOKENS.c.scope,
        _TOKENS.c.expires_at,
    )
    .select_from(_TOKENS.join(_ACCOUNTS, _ACCOUNTS.c.id == _TOKENS.c.user_id))
    .outerjoin(_MEMBERSHIPS, _MEMBERSHIPS.c.user_id == _ACCOUNTS.c.id)
    .where(_TOKENS.c.token_hash == bindparam("token_hash"))
)
ANONYMOUS_BEARER = Bearer()


def find_bearer(connection: Connection, token: str | None) -> Bearer:
    """`authenticate`, as a `Bearer`: no token is anonymous, a bad one is an error."""
    if not token:
        return ANONYMOUS_BEARER
    rows = connection.execute(BEARER_BY_HASH, {"token_hash": hash_token(token)}).all()
    return bearer_of(rows)


def bearer_of(rows: Sequence[Sequence[Any]]) -> Bearer:
    """The `Bearer` of `BEARER_BY_HASH`'s rows (user id, admin, token role, org id, org role,
    token id, scope, expiry); none, or one of nulls (an outer join's), is a token that does
    not exist."""
    if not rows or rows[0][0] is None:
        raise InvalidCredentials()
    user_id, is_admin, role = rows[0][:3]
    token_id, scope, expires_at = rows[0][5:8]
    check_expiry(expires_at)
    last_use.note(token_id)
    roles = tuple((row[3], row[4]) for row in rows if row[3] is not None)
    return Bearer(
        user_id=user_id, is_admin=is_admin, token_role=str(role), roles=roles, token_id=token_id,
        scope=scopes.load(scope) if scope else None,
    )  # fmt: skip


def list_tokens(session: Session, *, user: Account, exclude_name: str | None = None) -> list[Token]:
    stmt = select(Token).where(Token.user_id == user.id).order_by(Token.created_at.desc())
    return [t for t in session.scalars(stmt) if t.name != exclude_name]


def delete_token(session: Session, *, user: Account, token_id: int) -> None:
    """Revoke one of `user`'s tokens; someone else's token id is a 404, as a missing one."""
    token = session.get(Token, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("No such token")
    audit.record(session, "token.revoke", actor=user.name, namespace=user.name,
                 token=token.name, token_id=token.id)  # fmt: skip
    session.delete(token)
    session.flush()


def revoke_leaked(session: Session, *, token_hash: str, where: str) -> Account | None:
    """Revoke the token whose sha256 is `token_hash`, found published at `where` (a public
    repo's file): anyone could use it now. Returns its owner, or None when no such token."""
    row = session.scalar(_TOKEN_BY_HASH, {"token_hash": token_hash})
    if row is None:
        return None
    owner = row.user
    audit.record(session, "token.leaked", actor=None, namespace=owner.name, token=row.name,
                 token_id=row.id, found_in=where)  # fmt: skip
    session.delete(row)
    session.flush()
    log.warning("revoked token %s of %s: it was published in %s", row.id, owner.name, where)
    return owner


def revoke_token(session: Session, plain: str) -> None:
    """Delete the token whose plain text is `plain`, if any (logging out a browser session)."""
    row = session.scalar(_TOKEN_BY_HASH, {"token_hash": hash_token(plain)})
    if row is not None:
        session.delete(row)
        session.flush()


def list_members(session: Session, *, org: Account) -> list[Membership]:
    stmt = select(Membership).where(Membership.org_id == org.id).order_by(Membership.id)
    return list(session.scalars(stmt))


def list_orgs(session: Session, *, user: Account) -> list[Account]:
    """The organizations a user belongs to, by name (shown on the user's profile)."""
    stmt = select(Membership).where(Membership.user_id == user.id)
    return sorted((m.org for m in session.scalars(stmt)), key=lambda org: org.name)


def remove_member(session: Session, *, org: str, user: str, actor: str | None = None) -> None:
    org_account = get_account(session, org, kind=AccountKind.ORG)
    user_account = get_account(session, user, kind=AccountKind.USER)
    membership = _membership(session, org_account, user_account)
    if membership is None:
        raise NotFound(f"{user} is not a member of {org}")
    audit.record(session, "org.member_remove", actor=actor, namespace=org_account.name,
                 member=user_account.name, role=[membership.role.value, None])  # fmt: skip
    session.delete(membership)
    session.flush()


def is_org_admin(caller: Caller, org: Account) -> bool:
    # A fine-grained token administers an org only if it may write there.
    if caller.user is None or not caller.allows(Permission.REPO_WRITE, Target(org.name)):
        return False
    return caller.user.is_admin or caller.org_role(org.id) == OrgRole.ADMIN


def delete_old_tokens(session: Session, *, user: Account, name: str, before: datetime) -> None:
    """Drop `user`'s tokens called `name` created before `before` (expired browser sessions)."""
    session.execute(
        delete(Token).where(Token.user_id == user.id, Token.name == name, Token.created_at < before)
    )
