"""Enqueue, claim, heartbeat and finish jobs. Every state change is one short transaction, so
any number of workers in any number of processes share the table safely: on SQLite a claim is
one conditional UPDATE (SQLite runs one writer at a time); on PostgreSQL, `SELECT … FOR UPDATE
SKIP LOCKED` and an UPDATE, so concurrent workers pass over each other's rows instead of
queueing behind them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    exists,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.orm import Session, aliased

from hugbox.db import Database, utcnow
from hugbox.errors import Conflict
from hugbox.jobs.models import Job, JobStatus

BACKOFF_S = 5.0  # first retry after 5 s, then 10, 20, ...
MAX_BACKOFF_S = 600.0
KEEP_DONE = timedelta(days=7)
CHANNEL = "hugbox_jobs"  # PostgreSQL: enqueue NOTIFYs it, workers LISTEN to it (jobs/listener.py)
CLAIM_TRIES = 5  # PostgreSQL: a claim that lost its key to a concurrent claim looks again


def enqueue(session: Session, *, kind: str, key: str, payload: dict[str, Any]) -> Job:
    """Add a job in the caller's transaction, so it exists exactly when that work commits."""
    waiting = session.scalar(
        select(Job).where(Job.kind == kind, Job.key == key, Job.status == JobStatus.WAITING)
    )
    _notify(session)  # also for a refreshed job: one backing off is ready from now on
    if waiting is not None:
        waiting.payload = payload
        waiting.run_after = min(waiting.run_after, utcnow())
        session.flush()
        return waiting
    job = Job(kind=kind, key=key, payload=payload, status=JobStatus.WAITING, run_after=utcnow())
    session.add(job)
    session.flush()
    return job


def _notify(session: Session) -> None:
    """Wake the workers listening on PostgreSQL. NOTIFY in a transaction is delivered when it
    commits and never if it rolls back, so a worker is woken exactly when the job exists; the
    notifications of one transaction are folded into one."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))


def claim(database: Database, *, worker: str, kinds: Sequence[str]) -> Job | None:
    """The oldest ready job of `kinds` nobody runs (nor another job of its key), now ours."""
    if database.engine.dialect.name == "postgresql":
        return claim_skip_locked(database, worker=worker, kinds=kinds)
    return claim_by_update(database, worker=worker, kinds=kinds)


def _key_is_free() -> ColumnElement[bool]:
    """No job of the row's (kind, key) runs (answered by the index `ix_jobs_running_key`)."""
    busy = aliased(Job)
    return ~exists().where(
        and_(busy.kind == Job.kind, busy.key == Job.key, busy.status == JobStatus.RUNNING)
    )


def _key_not_running() -> ColumnElement[bool]:
    """`_key_is_free` for PostgreSQL. Written as NOT IN, which PostgreSQL does not turn into an
    anti-join: it reads the few running keys once (a hashed subplan on `ix_jobs_running_key`)
    and tests each waiting row against them. The EXISTS form, on a table filled faster than
    autovacuum analyzes it, was planned as a nested loop over every running row per waiting
    row: 21 ms a claim with 300 of each, against 0.3 ms. kind and key are never NULL, so NOT
    IN means what it says."""
    busy = aliased(Job)
    running = select(busy.kind, busy.key).where(busy.status == JobStatus.RUNNING)
    return tuple_(Job.kind, Job.key).not_in(running)


def _ready(kinds: Sequence[str], now: datetime, key_free: ColumnElement[bool]) -> Select[Job]:
    return (
        select(Job)
        .where(Job.status == JobStatus.WAITING, Job.run_after <= now, Job.kind.in_(kinds))
        .where(key_free)
        .order_by(Job.run_after, Job.id)
    )


def claim_by_update(database: Database, *, worker: str, kinds: Sequence[str]) -> Job | None:
    """Read a few candidates, then take the first that one conditional UPDATE still finds
    waiting with its key free. Exact on SQLite, whose writers run one at a time; on PostgreSQL
    concurrent workers all race for the same first rows (`claim_skip_locked` does not)."""
    now = utcnow()
    with database.session() as session:
        candidates = session.scalars(
            _ready(kinds, now, _key_is_free()).with_only_columns(Job.id).limit(5)
        ).all()
    for job_id in candidates:
        with database.session() as session:
            taken = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.WAITING, _key_is_free())
                .values(
                    status=JobStatus.RUNNING,
                    worker=worker,
                    heartbeat_at=now,
                    attempts=Job.attempts + 1,
                )
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                job = session.get(Job, job_id)
                assert job is not None
                session.expunge(job)
                return job
    return None


def claim_skip_locked(database: Database, *, worker: str, kinds: Sequence[str]) -> Job | None:
    """Lock the first ready row no other claim holds (`SKIP LOCKED`) and mark it ours. Two
    claims may still pick two waiting jobs of one key at once (neither sees the other's
    uncommitted run); the unique index on running keys refuses the second, which looks again."""
    for _ in range(CLAIM_TRIES):
        try:
            return _lock_and_take(database, worker=worker, kinds=kinds)
        except Conflict:
            continue
    return None


def _lock_and_take(database: Database, *, worker: str, kinds: Sequence[str]) -> Job | None:
    now = utcnow()
    with database.session() as session:
        ready = _ready(kinds, now, _key_not_running()).limit(1)
        job = session.scalar(ready.with_for_update(skip_locked=True, of=Job))
        if job is None:
            return None
        job.status, job.worker, job.heartbeat_at = JobStatus.RUNNING, worker, now
        job.attempts += 1
        session.flush()
        session.expunge(job)
    return job


def heartbeat(database: Database, *, worker: str) -> None:
    with database.session() as session:
        session.execute(
            update(Job)
            .where(Job.worker == worker, Job.status == JobStatus.RUNNING)
            .values(heartbeat_at=utcnow())
        )


def finish(database: Database, *, job_id: int) -> None:
    _set(database, job_id, status=JobStatus.DONE, finished_at=utcnow(), error=None)


def fail(database: Database, *, job_id: int, error: str, max_attempts: int) -> JobStatus:
    """Retry later with exponential backoff, or give up after `max_attempts` runs."""
    with database.session() as session:
        job = session.get(Job, job_id)
        if job is None:
            return JobStatus.FAILED
        job.error = error[-4000:]
        job.worker = None
        if job.attempts >= max_attempts:
            job.status, job.finished_at = JobStatus.FAILED, utcnow()
        else:
            delay = min(MAX_BACKOFF_S, BACKOFF_S * 2 ** (job.attempts - 1))
            job.status, job.run_after = JobStatus.WAITING, utcnow() + timedelta(seconds=delay)
        return job.status


def release(database: Database, *, worker: str) -> None:
    """A stopping worker hands its running jobs back, without counting the interrupted run."""
    with database.session() as session:
        result = session.execute(
            update(Job)
            .where(Job.worker == worker, Job.status == JobStatus.RUNNING)
            .values(status=JobStatus.WAITING, worker=None, attempts=Job.attempts - 1)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            _notify(session)  # another process's workers take them now


def requeue_stale(database: Database, *, stale_after: float) -> int:
    """Jobs whose worker stopped beating (its process died) are waiting again."""
    cutoff = utcnow() - timedelta(seconds=stale_after)
    with database.session() as session:
        result = session.execute(
            update(Job)
            .where(Job.status == JobStatus.RUNNING, Job.heartbeat_at < cutoff)
            .values(status=JobStatus.WAITING, worker=None, run_after=utcnow())
        )
        requeued = int(result.rowcount)  # type: ignore[attr-defined]
        if requeued:
            _notify(session)  # every listening worker, not the next safety poll
        return requeued


def prune(database: Database, *, older_than: timedelta = KEEP_DONE) -> int:
    """Forget jobs that succeeded long ago (failed ones stay, for operators to read)."""
    cutoff = utcnow() - older_than
    with database.session() as session:
        result = session.execute(
            delete(Job).where(Job.status == JobStatus.DONE, Job.finished_at < cutoff)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def jobs_for(session: Session, *, key: str, limit: int = 20) -> list[Job]:
    """The newest jobs of one key and its sub-keys (`key/...`), newest first."""
    related = or_(Job.key == key, Job.key.startswith(f"{key}/", autoescape=True))
    stmt = select(Job).where(related).order_by(Job.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def pending(session: Session, *, kind: str, key: str) -> bool:
    """Whether a job of `kind` on `key` waits or runs."""
    active = (JobStatus.WAITING, JobStatus.RUNNING)
    stmt = select(Job.id).where(Job.kind == kind, Job.key == key, Job.status.in_(active))
    return session.scalar(stmt.limit(1)) is not None


def _set(database: Database, job_id: int, **values: Any) -> None:
    with database.session() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))
