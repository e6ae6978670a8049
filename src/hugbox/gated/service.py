"""Access requests to gated repos: asked by users, granted automatically or by the repo's admins."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hugbox.auth.models import Account, AccountKind
from hugbox.auth.service import get_account
from hugbox.errors import BadRequest, NotFound
from hugbox.repos.models import AccessGrant, Repo

STATUSES = ("pending", "accepted", "rejected")


def ask_access(session: Session, *, repo: Repo, user: Account) -> AccessGrant:
    """A user asks for a gated repo's files; `auto` gating accepts at once."""
    if not repo.gated:
        raise BadRequest(f"{repo.repo_id} is not gated: its files are open to all who can see it")
    grant = _find(session, repo, user.id) or _new_request(session, repo, user.id)
    if grant.status == "pending" and repo.gated == "auto":
        grant.status = "accepted"
    session.flush()
    return grant


def list_requests(
    session: Session, *, repo: Repo, status: str
) -> list[tuple[AccessGrant, Account]]:
    if status not in STATUSES:
        raise BadRequest(f"Unknown status {status!r}: use one of {', '.join(STATUSES)}")
    rows = session.execute(
        select(AccessGrant, Account)
        .join(Account, Account.id == AccessGrant.user_id)
        .where(AccessGrant.repo_pk == repo.pk, AccessGrant.status == status)
        .order_by(AccessGrant.created_at)
    )
    return [(grant, account) for grant, account in rows]


def set_status(
    session: Session, *, repo: Repo, user: str | None, request_id: int | None, status: str
) -> AccessGrant:
    """Accept, reject or reset (pending) a request, found by user name or request id."""
    if status not in STATUSES:
        raise BadRequest(f"Unknown status {status!r}: use one of {', '.join(STATUSES)}")
    if user is not None:
        account = get_account(session, user, kind=AccountKind.USER)
        grant = _find(session, repo, account.id)
    else:
        grant = session.get(AccessGrant, request_id) if request_id is not None else None
    if grant is None or grant.repo_pk != repo.pk:
        raise NotFound("No access request from this user for this repo")
    grant.status = status
    session.flush()
    return grant


def grant(session: Session, *, repo: Repo, user: str) -> AccessGrant:
    account = get_account(session, user, kind=AccountKind.USER)
    found = _find(session, repo, account.id)
    if found is None:
        found = AccessGrant(repo_pk=repo.pk, user_id=account.id, status="accepted")
        session.add(found)
    found.status = "accepted"
    session.flush()
    return found


def _new_request(session: Session, repo: Repo, user_id: int) -> AccessGrant:
    """A pending request; asking twice at once (a double click) finds the first one's row."""
    grant = AccessGrant(repo_pk=repo.pk, user_id=user_id, status="pending")
    try:
        with session.begin_nested():
            session.add(grant)
    except IntegrityError:
        found = _find(session, repo, user_id)
        if found is None:  # not a twin request's row: the repo itself changed meanwhile
            raise
        return found
    return grant


def _find(session: Session, repo: Repo, user_id: int) -> AccessGrant | None:
    return session.scalar(
        select(AccessGrant).where(AccessGrant.repo_pk == repo.pk, AccessGrant.user_id == user_id)
    )
