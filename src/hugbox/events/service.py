"""Record repo events and deliver them to subscribers.

A change writes its event in its own transaction (`record`), together with one waiting
delivery job, so the event exists exactly when the change commits. The job worker then runs
`Delivery.deliver`: each subscriber handles the events after its cursor, and its cursor moves in
the same transaction as what it did, so a subscriber that fails is retried from where it stopped
and one subscriber's failure never holds back the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.db import Database
from hugbox.events.models import EventCursor, RepoEvent
from hugbox.jobs import service as jobs

log = logging.getLogger(__name__)

DELIVER_JOB = "events.deliver"
# The kinds of event, and what each one's data holds.
REF_MOVED = "repo.ref_moved"  # ref, old (None for a new ref), new (None for a deleted ref)
REPO_CREATED = "repo.created"  # head: the initial commit
REPO_DELETED = "repo.deleted"  # (nothing: the event's repo_type and repo_id say which)
REPO_MOVED = "repo.moved"  # old_id, new_id
REPO_UPDATED = "repo.updated"  # each changed setting: {"private": [old, new], "gated": [...]}
# Discussions and pull requests. Each carries what a consumer (webhooks, notifications) needs
# without reading the community tables: num, title, status, is_pull_request, author (a name).
DISCUSSION_CREATED = "discussion.created"  # + comment: {id, author, content} (the opening post)
DISCUSSION_UPDATED = "discussion.updated"  # + changes: {"status"|"title": [old, new]}, merge_commit
DISCUSSION_COMMENTED = "discussion.commented"  # + comment: {id, author, content, hidden, edited}
# Access requests to gated repos: request_id, user (the requester's name), status; a decision
# adds old_status, by (who decided: a name) and reason (a rejection's, or None).
ACCESS_REQUEST_CREATED = "access_request.created"
ACCESS_REQUEST_DECIDED = "access_request.decided"
BATCH = 100
MAIN_REF = "refs/heads/main"


@dataclass(frozen=True)
class RepoKey:
    """The repo an event is about: its row id, and its type and id as they were."""

    pk: int
    type: str
    repo_id: str


def record(session: Session, repo: RepoKey, kind: str, **data: Any) -> RepoEvent:
    """Append an event about `repo` in the caller's transaction and ask for its delivery."""
    event = RepoEvent(
        kind=kind, repo_pk=repo.pk, repo_type=repo.type, repo_id=repo.repo_id, data=data
    )
    session.add(event)
    jobs.enqueue(session, kind=DELIVER_JOB, key="all", payload={})
    return event


def main_moved(event: RepoEvent) -> bool:
    """Whether `event` says the repo's main branch now has a new head."""
    return (
        event.kind == REF_MOVED
        and event.data.get("ref") == MAIN_REF
        and event.data.get("new") is not None
    )


@dataclass(frozen=True)
class Subscriber:
    """`handle(session, event)` reacts to one event of `kinds`, in the transaction that moves
    the subscriber's cursor past it. It runs at least once per event: it must be idempotent."""

    name: str
    kinds: Collection[str]
    handle: Callable[[Session, RepoEvent], None]


class Delivery:
    """The subscribers the wiring registered, fed from the event table. A new subscriber starts
    at the first event: handlers are idempotent, and the events of a hub seeded before its
    first start (`hugbox demo`) must reach them."""

    def __init__(self, database: Database, subscribers: Sequence[Subscriber]):
        self.database = database
        self.subscribers = list(subscribers)

    def deliver(self, _payload: dict[str, Any]) -> None:
        """The delivery job: every subscriber catches up; a failure is raised (the job is
        retried) only after the others had their turn."""
        failed: list[str] = []
        for subscriber in self.subscribers:
            try:
                while self._deliver_batch(subscriber):
                    pass
            except Exception:
                log.exception("event subscriber %s failed", subscriber.name)
                failed.append(subscriber.name)
        if failed:
            raise RuntimeError(f"event subscribers failed: {', '.join(failed)}")

    def _deliver_batch(self, subscriber: Subscriber) -> bool:
        """Handle up to BATCH events after the cursor in one transaction; False when none."""
        with self.database.session() as session:
            cursor = session.get(EventCursor, subscriber.name, with_for_update=True)
            if cursor is None:
                cursor = EventCursor(subscriber=subscriber.name, last_event_id=0)
                session.add(cursor)
            events = session.scalars(
                select(RepoEvent)
                .where(RepoEvent.id > cursor.last_event_id)
                .order_by(RepoEvent.id)
                .limit(BATCH)
            ).all()
            for event in events:
                if event.kind in subscriber.kinds:
                    subscriber.handle(session, event)
                cursor.last_event_id = event.id
            return bool(events)
