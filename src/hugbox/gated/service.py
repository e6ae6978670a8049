"""Access requests to gated repos: asked by users, granted automatically or by the repo's admins.

Each request and each decision is a repo event (`access_request.created` / `.decided`) others
may follow; the requester hears of a decision, and a user who owns the repo of a new request
waiting for review, through an in-app notification.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hugbox.auth.models import Account, AccountKind, OrgRole
from hugbox.auth.service import find_account, list_members
from hugbox.db import utcnow
from hugbox.errors import BadRequest, Conflict, Forbidden, NotFound, RepoNotGated
from hugbox.events import service as events
from hugbox.gated.form import NO_FORM, GateForm, check_answers
from hugbox.notifications.service import notify
from hugbox.repos.models import AccessGrant, Repo

STATUSES = ("pending", "accepted", "rejected")
MAX_REASON = 200  # HF's limit on a rejection's reason
MAX_PAGE = 1000


def ask_access(
    session: Session, *, repo: Repo, user: Account, form: GateForm = NO_FORM,
    answers: Mapping[str, Any] | None = None,
) -> AccessGrant:  # fmt: skip
    """A user asks for a gated repo's files with the form's answers; `auto` gating accepts at
    once. Asking again while pending or accepted changes nothing; a rejected user may not."""
    if not repo.gated:
        raise RepoNotGated(f"{repo.repo_id} is not gated: its files are open to all who see it")
    found = _find(session, repo, user.id)
    if found is not None:
        return _asked_again(found, repo)
    fields = check_answers(form, answers or {}) if form.fields else None
    grant, created = _new_request(session, repo, user.id, fields)
    if not created:  # a twin request (a double click) made it first
        return _asked_again(grant, repo)
    if repo.gated == "auto":
        grant.status, grant.decided_at = "accepted", utcnow()
    _record(session, repo, events.ACCESS_REQUEST_CREATED, grant, user=user.name)
    if grant.status == "pending":
        _tell_owner(session, repo, user)
    return grant


def _asked_again(grant: AccessGrant, repo: Repo) -> AccessGrant:
    if grant.status == "rejected":
        raise Forbidden(f"Your request to access {repo.repo_id} has been rejected by its authors")
    return grant


def list_requests(
    session: Session, *, repo: Repo, status: str, offset: int = 0, limit: int = MAX_PAGE
) -> list[tuple[AccessGrant, Account]]:
    """A slice of the repo's requests in `status`, oldest first."""
    if status not in STATUSES:
        raise NotFound(f"Unknown status {status[:50]!r}: use one of {', '.join(STATUSES)}")
    rows = session.execute(
        select(AccessGrant, Account)
        .join(Account, Account.id == AccessGrant.user_id)
        .where(AccessGrant.repo_pk == repo.pk, AccessGrant.status == status)
        .order_by(AccessGrant.id)
        .offset(offset)
        .limit(limit)
    )
    return [(grant, account) for grant, account in rows]


def handle_request(
    session: Session, *, repo: Repo, by: Account, status: str, user: str | None = None,
    request_id: str | None = None, reason: str | None = None,
) -> AccessGrant:  # fmt: skip
    """Accept, reject or reset to pending a request, found by user name or request id."""
    _check_decision(status, reason)
    grant = _find_request(session, repo, user=user, request_id=request_id)
    if grant.status == status:
        raise Conflict(f"This request is already {status}")
    _decide(session, repo, grant, status=status, by=by, reason=reason)
    return grant


def grant_access(session: Session, *, repo: Repo, user: str, by: Account) -> AccessGrant:
    """Give `user` the files without a request of theirs (their email is then not shared)."""
    account = _user(session, user)
    grant = _find(session, repo, account.id)
    if grant is not None and grant.status == "accepted":
        raise Conflict(f"{account.name} already has access to {repo.repo_id}")
    if grant is None:
        grant = _new_request(session, repo, account.id, None)[0]
    grant.granted_by_id = by.id
    _decide(session, repo, grant, status="accepted", by=by, reason=None)
    return grant


def _check_decision(status: str, reason: str | None) -> None:
    if status not in STATUSES:
        raise BadRequest(f"Unknown status {status[:50]!r}: use one of {', '.join(STATUSES)}")
    if reason is not None and status != "rejected":
        raise BadRequest("Only a rejection takes a `rejectionReason`")
    if reason is not None and len(reason) > MAX_REASON:
        raise BadRequest(f"The rejection reason is too long (at most {MAX_REASON} characters)")


def _decide(
    session: Session, repo: Repo, grant: AccessGrant, *, status: str, by: Account,
    reason: str | None,
) -> None:  # fmt: skip
    old_status, grant.status = grant.status, status
    grant.rejection_reason = reason if status == "rejected" else None
    grant.decided_at = utcnow()
    requester = session.get(Account, grant.user_id)
    name = requester.name if requester is not None else ""
    _record(
        session, repo, events.ACCESS_REQUEST_DECIDED, grant, user=name,
        old_status=old_status, by=by.name, reason=grant.rejection_reason,
    )  # fmt: skip
    if status != "pending":
        _tell_requester(session, repo, grant)


def _record(session: Session, repo: Repo, kind: str, grant: AccessGrant, **data: Any) -> None:
    session.flush()
    key = events.RepoKey(pk=repo.pk, type=repo.type.value, repo_id=repo.repo_id)
    events.record(session, key, kind, request_id=grant.request_id, status=grant.status, **data)


def _tell_requester(session: Session, repo: Repo, grant: AccessGrant) -> None:
    what = f"{repo.type.value} {repo.repo_id}"
    text = f"Your request to access {what} was {grant.status}"
    if grant.rejection_reason:
        text += f": {grant.rejection_reason}"
    url = f"/{repo.type.url_prefix}{repo.repo_id}"
    notify(session, grant.user_id, events.ACCESS_REQUEST_DECIDED, text, url)


def _tell_owner(session: Session, repo: Repo, requester: Account) -> None:
    """The repo's owner hears of a request to review, or an org's admins for its repos."""
    text = f"{requester.name} asks for access to {repo.type.value} {repo.repo_id}"
    url = f"/{repo.type.url_prefix}{repo.repo_id}/access-requests"
    for user_pk in _reviewers(session, repo):
        notify(session, user_pk, events.ACCESS_REQUEST_CREATED, text, url)


def _reviewers(session: Session, repo: Repo) -> list[int]:
    owner = session.get(Account, repo.owner_id)
    if owner is None:
        return []
    if owner.kind == AccountKind.USER:
        return [owner.id]
    members = list_members(session, org=owner)
    return [m.user_id for m in members if m.role == OrgRole.ADMIN]


def _find_request(
    session: Session, repo: Repo, *, user: str | None, request_id: str | None
) -> AccessGrant:
    if (user is None) == (request_id is None):
        raise BadRequest("Pass exactly one of `user` and `requestId`")
    if user is not None:
        grant = _find(session, repo, _user(session, user).id)
    else:
        grant = session.scalar(select(AccessGrant).where(AccessGrant.request_id == request_id))
    if grant is None or grant.repo_pk != repo.pk:
        raise NotFound("No access request from this user for this repo")
    return grant


def _user(session: Session, name: str) -> Account:
    account = find_account(session, name[:200])
    if account is None or account.kind != AccountKind.USER:
        raise NotFound(f"No user named {name[:100]!r}")
    return account


def _new_request(
    session: Session, repo: Repo, user_id: int, fields: dict[str, Any] | None
) -> tuple[AccessGrant, bool]:
    """A pending request, and whether it is new: asking twice at once (a double click) finds
    the first one's row."""
    grant = AccessGrant(repo_pk=repo.pk, user_id=user_id, status="pending", fields=fields)
    try:
        with session.begin_nested():
            session.add(grant)
    except IntegrityError:
        found = _find(session, repo, user_id)
        if found is None:  # not a twin request's row: the repo itself changed meanwhile
            raise
        return found, False
    return grant, True


def _find(session: Session, repo: Repo, user_id: int) -> AccessGrant | None:
    return session.scalar(
        select(AccessGrant).where(AccessGrant.repo_pk == repo.pk, AccessGrant.user_id == user_id)
    )
