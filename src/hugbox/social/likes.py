"""Likes: a user marks a repo; its `likes` count (info, listings, `sort=likes`) follows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hugbox.auth.models import Account, AccountKind
from hugbox.auth.service import Caller, get_account
from hugbox.repos import access
from hugbox.repos.models import Repo
from hugbox.social.models import RepoLike


@dataclass(frozen=True)
class LikedRepo:
    repo: Repo
    liked_at: datetime


def like(session: Session, *, repo: Repo, user: Account) -> int:
    """`user` likes `repo` (again: nothing changes); returns the repo's count."""
    if not is_liked(session, repo=repo, user=user):
        try:
            with session.begin_nested():
                session.add(RepoLike(repo_pk=repo.pk, user_id=user.id))
        except IntegrityError:  # a twin request (a double click) liked it first
            pass
    return _recount(session, repo)


def unlike(session: Session, *, repo: Repo, user: Account) -> int:
    session.execute(
        delete(RepoLike).where(RepoLike.repo_pk == repo.pk, RepoLike.user_id == user.id)
    )
    return _recount(session, repo)


def is_liked(session: Session, *, repo: Repo, user: Account | None) -> bool:
    if user is None:
        return False
    found = select(RepoLike.id).where(RepoLike.repo_pk == repo.pk, RepoLike.user_id == user.id)
    return session.scalar(found) is not None


def _recount(session: Session, repo: Repo) -> int:
    """Counted, not incremented: concurrent likes and unlikes cannot drift the count."""
    count = select(func.count()).where(RepoLike.repo_pk == repo.pk).scalar_subquery()
    session.execute(update(Repo).where(Repo.pk == repo.pk).values(likes=count))
    session.flush()
    likes: int = session.scalar(select(Repo.likes).where(Repo.pk == repo.pk)) or 0
    repo.likes = likes
    return likes


def list_likers(session: Session, *, repo: Repo, offset: int, page_size: int) -> list[Account]:
    """Who liked `repo`, the latest first (the caller may read the repo: its loader checked)."""
    stmt = (
        select(Account)
        .join(RepoLike, RepoLike.user_id == Account.id)
        .where(RepoLike.repo_pk == repo.pk)
        .order_by(RepoLike.created_at.desc(), RepoLike.id.desc())
    )
    return list(session.scalars(stmt.offset(offset).limit(page_size)))


def list_liked_repos(
    session: Session, *, caller: Caller, user: str, offset: int, page_size: int
) -> list[LikedRepo]:
    """The repos `user` liked, the latest first; only those `caller` may read."""
    account = get_account(session, user, kind=AccountKind.USER)
    stmt = (
        select(Repo, RepoLike.created_at)
        .join(RepoLike, RepoLike.repo_pk == Repo.pk)
        .where(RepoLike.user_id == account.id)
        .order_by(RepoLike.created_at.desc(), RepoLike.id.desc())
    )
    rows = session.execute(stmt).all()
    visible = [LikedRepo(repo, at) for repo, at in rows if access.can_read(caller, repo)]
    return visible[offset : offset + page_size]


def forget_deleted_repo(session: Session, repo_pk: int) -> None:
    """Drop the likes of a deleted repo. The foreign key's cascade already did on a database
    that enforces it; a repo row that took the same id since keeps its own."""
    still_there = exists().where(Repo.pk == repo_pk)
    session.execute(delete(RepoLike).where(RepoLike.repo_pk == repo_pk, ~still_there))
