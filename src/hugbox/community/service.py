"""Discussions and pull requests, read: the filtered, paged list and a discussion's timeline
(its opening post, comments, status and title changes, and a PR's commits read from git).

What changes them, and who may, is `actions.py`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hugbox.auth.models import Account
from hugbox.community.models import DiscussionEvent
from hugbox.errors import NotFound
from hugbox.pagination import MAX_OFFSET
from hugbox.repos import pulls
from hugbox.repos.models import Discussion, Repo
from hugbox.repos.store import RepoStore

PAGE_SIZE = 50
HIDDEN_TEXT = "This comment has been hidden"
CLOSED = ("closed", "merged")


@dataclass(frozen=True)
class DiscussionPage:
    discussions: list[Discussion]
    comments: dict[int, int]  # discussion row id: its number of comments
    count: int  # of all that match the filters
    start: int
    num_closed: int


@dataclass(frozen=True)
class ThreadEvent:
    """One entry of a discussion's timeline, whatever its source (a row, the opening post, a
    commit of the PR): `type` is HF's (comment, status-change, title-change, commit)."""

    id: str
    type: str
    created_at: datetime
    author: Account | None
    author_name: str | None  # a commit's author, who may have no account here
    content: str = ""
    edited: bool = False
    hidden: bool = False
    updated_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Thread:
    discussion: Discussion
    events: list[ThreadEvent]
    pr: pulls.PrState | None


def new_event_id() -> str:
    """A 24-hex id shaped like HF's ObjectIds: the time, then randomness."""
    return f"{int(time.time()):08x}{secrets.token_hex(8)}"


def list_discussions(
    session: Session, repo: Repo, *, page: int, kind: str = "all", status: str = "all",
    author: str | None = None,
) -> DiscussionPage:  # fmt: skip
    """Newest first, PAGE_SIZE a page; `status=open` includes drafts, `closed` merged PRs."""
    where = [Discussion.repo_pk == repo.pk]
    if kind != "all":
        where.append(Discussion.is_pull_request.is_(kind == "pull_request"))
    if status == "open":
        where.append(Discussion.status.not_in(CLOSED))
    elif status == "closed":
        where.append(Discussion.status.in_(CLOSED))
    if author:
        where.append(Discussion.author.has(Account.name_lower == author.lower()))
    count = session.scalar(select(func.count()).select_from(Discussion).where(*where)) or 0
    found = list(session.scalars(
        select(Discussion).where(*where).order_by(Discussion.num.desc())
        .offset(page * PAGE_SIZE).limit(PAGE_SIZE)
    ))  # fmt: skip
    return DiscussionPage(
        found, _comment_counts(session, found), count, page * PAGE_SIZE,
        _count_closed(session, repo),
    )  # fmt: skip


def _comment_counts(session: Session, found: list[Discussion]) -> dict[int, int]:
    if not found:
        return {}
    rows = session.execute(
        select(DiscussionEvent.discussion_pk, func.count())
        .where(DiscussionEvent.discussion_pk.in_([d.id for d in found]))
        .where(DiscussionEvent.type == "comment")
        .group_by(DiscussionEvent.discussion_pk)
    )
    counts = {row[0]: row[1] for row in rows}
    return {d.id: 1 + counts.get(d.id, 0) for d in found}  # the opening post is a comment too


def _count_closed(session: Session, repo: Repo) -> int:
    where = (Discussion.repo_pk == repo.pk, Discussion.status.in_(CLOSED))
    return session.scalar(select(func.count()).select_from(Discussion).where(*where)) or 0


def get_discussion(session: Session, repo: Repo, num: int) -> Discussion:
    if not 0 < num <= MAX_OFFSET:  # SQLite cannot even bind a number past 64 bits
        raise NotFound(f"Discussion #{num} not found")
    found = session.scalar(
        select(Discussion).where(Discussion.repo_pk == repo.pk, Discussion.num == num)
    )
    if found is None:
        raise NotFound(f"Discussion #{num} not found")
    return found


def thread(session: Session, store: RepoStore, repo: Repo, discussion: Discussion) -> Thread:
    """The discussion with its timeline, oldest first, and a PR's state in git."""
    timeline = [opening_event(discussion), *(event_of_row(r) for r in _rows(session, discussion))]
    pr = None
    if discussion.is_pull_request:
        pr = pulls.pr_state(
            store, repo, num=discussion.num, base_ref=discussion.base_ref,
            merging=discussion.status not in CLOSED,
        )  # fmt: skip
        timeline += [_from_commit(discussion, c) for c in pr.commits]
    order = {"opening": 0}
    timeline.sort(key=lambda e: (e.created_at, order.get(e.data.get("_", ""), 1)))
    return Thread(discussion, timeline, pr)


def _rows(session: Session, discussion: Discussion) -> list[DiscussionEvent]:
    query = select(DiscussionEvent).where(DiscussionEvent.discussion_pk == discussion.id)
    return list(session.scalars(query.order_by(DiscussionEvent.id)))


def opening_event(d: Discussion) -> ThreadEvent:
    return ThreadEvent(
        id=d.opening_comment_id, type="comment", created_at=d.created_at, author=d.author,
        author_name=None, content=HIDDEN_TEXT if d.description_hidden else d.description,
        edited=d.description_edited, hidden=d.description_hidden,
        updated_at=d.description_updated_at or d.created_at, data={"_": "opening"},
    )  # fmt: skip


def event_of_row(row: DiscussionEvent) -> ThreadEvent:
    return ThreadEvent(
        id=row.event_id, type=row.type, created_at=row.created_at, author=row.author,
        author_name=None, content=row.content, edited=row.edited, hidden=row.hidden,
        updated_at=row.updated_at or row.created_at, data=dict(row.data),
    )  # fmt: skip


def _from_commit(d: Discussion, commit: pulls.PrCommit) -> ThreadEvent:
    # A pushed commit may be older than the PR: it shows where it joined the PR at the earliest.
    moment = max(commit.date, d.created_at)
    return ThreadEvent(
        id=f"{int(moment.timestamp()):08x}{commit.oid[:16]}", type="commit", created_at=moment,
        author=None, author_name=commit.author_name,
        data={"subject": commit.subject, "oid": commit.oid, "parents": commit.parents},
    )  # fmt: skip


def diff(store: RepoStore, repo: Repo, found: Thread) -> str:
    return pulls.pr_diff(store, repo, found.pr) if found.pr else ""
