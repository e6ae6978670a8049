"""The event outbox on a real SQLite database: an event exists exactly when its change commits,
each subscriber sees every event once it succeeds, and a failing subscriber is retried from
where it stopped without holding back the others."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.db import Database
from hugbox.events import service as events
from hugbox.events.models import RepoEvent
from hugbox.jobs.models import Job, JobStatus

REPO = events.RepoKey(pk=7, type="dataset", repo_id="alice/data")


def _record(database: Database, ref: str = "refs/heads/main", new: str | None = "b" * 40) -> None:
    with database.session() as session:
        events.record(session, REPO, events.REF_MOVED, ref=ref, old="a" * 40, new=new)


class Recorder:
    def __init__(self, fail_times: int = 0):
        self.seen: list[int] = []
        self.fail_times = fail_times

    def __call__(self, _session: Session, event: RepoEvent) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("subscriber down")
        self.seen.append(event.id)


def test_an_event_and_its_delivery_job_commit_with_the_change_or_not_at_all(
    database: Database,
) -> None:
    with pytest.raises(RuntimeError), database.session() as session:
        events.record(session, REPO, events.REF_MOVED, ref="refs/heads/main", old=None, new="c")
        raise RuntimeError("the change failed")
    with database.session() as session:
        assert session.scalars(select(RepoEvent)).all() == []
        assert session.scalars(select(Job)).all() == []
    _record(database)
    _record(database)
    with database.session() as session:
        assert len(session.scalars(select(RepoEvent)).all()) == 2
        jobs = session.scalars(select(Job).where(Job.status == JobStatus.WAITING)).all()
        assert [job.kind for job in jobs] == [events.DELIVER_JOB]  # one delivery for both


def test_each_subscriber_sees_each_event_of_its_kinds_once(database: Database) -> None:
    moved, other = Recorder(), Recorder()
    delivery = events.Delivery(
        database,
        [
            events.Subscriber("moved", {events.REF_MOVED}, moved),
            events.Subscriber("other", {"repo.deleted"}, other),
        ],
    )
    for _ in range(3):
        _record(database)
    delivery.deliver({})
    delivery.deliver({})  # a second run finds nothing new
    assert len(moved.seen) == 3 == len(set(moved.seen))
    assert other.seen == []
    _record(database)
    delivery.deliver({})
    assert len(moved.seen) == 4


def test_a_failing_subscriber_is_retried_from_its_cursor_and_blocks_no_other(
    database: Database,
) -> None:
    flaky, steady = Recorder(fail_times=1), Recorder()
    delivery = events.Delivery(
        database,
        [
            events.Subscriber("flaky", {events.REF_MOVED}, flaky),
            events.Subscriber("steady", {events.REF_MOVED}, steady),
        ],
    )
    _record(database)
    with pytest.raises(RuntimeError, match="flaky"):
        delivery.deliver({})
    assert len(steady.seen) == 1 and flaky.seen == []
    delivery.deliver({})  # the job worker's retry
    assert flaky.seen == steady.seen


def test_main_moved_only_for_a_new_head_of_main(database: Database) -> None:
    _record(database)
    _record(database, ref="refs/pr/1")
    _record(database, new=None)  # main deleted
    with database.session() as session:
        found = [
            events.main_moved(e) for e in session.scalars(select(RepoEvent).order_by(RepoEvent.id))
        ]
    assert found == [True, False, False]
