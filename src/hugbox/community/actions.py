"""What changes a discussion: open, comment, edit, hide, rename, change status, merge.

Each returns the timeline entry it added or changed, read back through the same function that
builds the thread: the `updatedComment` an edit answers equals the entry a later read shows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.auth.service import Caller
from hugbox.community.models import DiscussionEvent
from hugbox.community.service import (
    HIDDEN_TEXT,
    ThreadEvent,
    event_of_row,
    new_event_id,
    opening_event,
)
from hugbox.db import utcnow
from hugbox.errors import BadRequest, Forbidden, NotFound
from hugbox.events import service as events
from hugbox.repos import access, announce, commits, pulls, refs
from hugbox.repos.models import Discussion, Repo
from hugbox.repos.store import RepoStore

STATUSES = ("open", "closed")


def create_discussion(
    session: Session, store: RepoStore, *, caller: Caller, repo: Repo, title: str,
    description: str, pull_request: bool,
) -> int:  # fmt: skip
    title = title.strip()
    if not 3 <= len(title) <= 200:
        raise BadRequest("A title has 3 to 200 characters")
    num = commits.open_discussion(
        session, repo=repo, caller=caller, title=title, description=description,
        is_pull_request=pull_request,
    )  # fmt: skip
    if pull_request:  # its ref exists at once, at main's head (HF: repo_info("refs/pr/1") works)
        refs.create_pr_ref(session, store, repo=repo, num=num)
    return num


def _announce(session: Session, repo: Repo, d: Discussion, kind: str, **data: Any) -> None:
    announce.announce(session, repo, kind, **d.event_fields(), **data)


def _comment_fields(event: ThreadEvent) -> dict[str, Any]:
    author = event.author.name if event.author else "deleted"
    return {"id": event.id, "author": author, "content": event.content,
            "hidden": event.hidden, "edited": event.edited}  # fmt: skip


def _add(session: Session, caller: Caller, d: Discussion, kind: str, **fields: Any) -> ThreadEvent:
    row = DiscussionEvent(
        discussion_pk=d.id, event_id=new_event_id(), type=kind,
        author_id=caller.user.id if caller.user else None, **fields,
    )  # fmt: skip
    session.add(row)
    session.flush()
    session.refresh(row)
    return event_of_row(row)


def comment(
    session: Session, *, caller: Caller, repo: Repo, d: Discussion, content: str
) -> ThreadEvent:
    if not content.strip() or len(content) > 65536:
        raise BadRequest("A comment has 1 to 65536 characters")
    event = _add(session, caller, d, "comment", content=content)
    _announce(session, repo, d, events.DISCUSSION_COMMENTED, comment=_comment_fields(event),
              action="create")  # fmt: skip
    return event


def _may_moderate(caller: Caller, repo: Repo, author_id: int | None) -> None:
    """The author of the thing, or a writer of the repo (spec §1.7)."""
    mine = caller.user is not None and author_id == caller.user.id
    if not (mine or access.can_write(caller, repo)):
        raise Forbidden("Only its author or a writer of the repo may do this")


def _find_comment(session: Session, d: Discussion, comment_id: str) -> DiscussionEvent | None:
    """The row of a comment (None: the opening post); NotFound for any other id."""
    comment_id = comment_id.lower()
    if comment_id == d.opening_comment_id:
        return None
    row = session.scalar(
        select(DiscussionEvent).where(
            DiscussionEvent.discussion_pk == d.id, DiscussionEvent.event_id == comment_id,
            DiscussionEvent.type == "comment",
        )
    )  # fmt: skip
    if row is None:
        raise NotFound(f"Comment {comment_id} not found in discussion #{d.num}")
    return row


def edit_comment(
    session: Session, *, caller: Caller, repo: Repo, d: Discussion, comment_id: str,
    content: str, hide: bool = False,
) -> ThreadEvent:  # fmt: skip
    """Change a comment's text, or hide it for good (its text is gone)."""
    if not hide and (not content.strip() or len(content) > 65536):
        raise BadRequest("A comment has 1 to 65536 characters")
    row = _find_comment(session, d, comment_id)
    _may_moderate(caller, repo, d.author_id if row is None else row.author_id)
    if d.description_hidden if row is None else row.hidden:
        raise BadRequest("A hidden comment cannot be changed")
    text = HIDDEN_TEXT if hide else content
    if row is None:
        d.description, d.description_edited, d.description_hidden = text, True, hide
        d.description_updated_at = utcnow()
    else:
        row.content, row.edited, row.hidden, row.updated_at = text, True, hide, utcnow()
    session.flush()
    event = opening_event(d) if row is None else event_of_row(row)
    _announce(session, repo, d, events.DISCUSSION_COMMENTED, comment=_comment_fields(event),
              action="update")  # fmt: skip
    return event


def rename(
    session: Session, *, caller: Caller, repo: Repo, d: Discussion, title: str
) -> ThreadEvent:
    title = title.strip()
    if not 3 <= len(title) <= 200:
        raise BadRequest("A title has 3 to 200 characters")
    _may_moderate(caller, repo, d.author_id)
    old = d.title
    d.title = title
    event = _add(session, caller, d, "title-change", data={"from": old, "to": title})
    _announce(session, repo, d, events.DISCUSSION_UPDATED, changes={"title": [old, title]})
    return event


def change_status(
    session: Session, *, caller: Caller, repo: Repo, d: Discussion, status: str,
    comment_text: str = "",
) -> ThreadEvent:  # fmt: skip
    """Close or (re)open; opening a draft PR publishes it."""
    if status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    _may_moderate(caller, repo, d.author_id)
    if d.status == "merged":
        raise BadRequest(f"Pull request #{d.num} is merged: its status cannot change")
    if d.status == status:
        raise BadRequest(f"Discussion #{d.num} is already {status}")
    if comment_text.strip():
        comment(session, caller=caller, repo=repo, d=d, content=comment_text)
    return _set_status(session, caller, repo, d, status)


def _set_status(
    session: Session, caller: Caller, repo: Repo, d: Discussion, status: str, **extra: Any
) -> ThreadEvent:
    old = d.status
    d.status = status
    event = _add(session, caller, d, "status-change", data={"status": status})
    _announce(session, repo, d, events.DISCUSSION_UPDATED, changes={"status": [old, status]},
              **extra)  # fmt: skip
    return event


def merge(
    session: Session, store: RepoStore, *, caller: Caller, repo: Repo, d: Discussion,
    comment_text: str = "",
) -> str:  # fmt: skip
    """Squash-merge an open PR onto its base branch (writers only); returns the commit."""
    if not d.is_pull_request:
        raise BadRequest(f"Discussion #{d.num} is not a pull request")
    if not access.can_write(caller, repo) or caller.user is None:
        raise Forbidden(f"Only writers of {repo.repo_id} may merge pull requests")
    if d.status != "open":
        hint = ": publish it first" if d.status == "draft" else ""
        raise BadRequest(f"Pull request #{d.num} is {d.status}{hint}")
    oid = pulls.merge_pr(
        session, store, repo=repo, num=d.num, title=d.title, base_ref=d.base_ref,
        merger=caller.user,
    )  # fmt: skip
    if comment_text.strip():
        comment(session, caller=caller, repo=repo, d=d, content=comment_text)
    d.merge_commit = oid
    _set_status(session, caller, repo, d, "merged", merge_commit=oid)
    return oid
