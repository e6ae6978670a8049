"""The job table on real SQLite and PostgreSQL databases: claims are exclusive, failures back
off, jobs of a dead worker run again, and a worker thread runs what is enqueued."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from hugbox.db import Database, utcnow
from hugbox.errors import Conflict
from hugbox.jobs import service
from hugbox.jobs.models import Job, JobStatus
from hugbox.jobs.worker import Worker, WorkerLimits


def _enqueue(database: Database, key: str = "k", kind: str = "work") -> int:
    with database.session() as session:
        return service.enqueue(session, kind=kind, key=key, payload={"key": key}).id


def test_one_waiting_job_per_key(database: Database) -> None:
    assert _enqueue(database) == _enqueue(database)
    assert _enqueue(database, key="other") != _enqueue(database)


def test_claims_are_exclusive_across_threads(database: Database) -> None:
    for i in range(20):
        _enqueue(database, key=f"k{i}")
    claimed: list[int] = []
    lock = threading.Lock()

    def grab(name: str) -> None:
        while (job := service.claim(database, worker=name, kinds=["work"])) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=grab, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 20


def test_a_key_runs_one_job_at_a_time(database: Database) -> None:
    _enqueue(database)
    first = service.claim(database, worker="a", kinds=["work"])
    assert first is not None
    _enqueue(database)  # a new commit while the first conversion runs
    assert service.claim(database, worker="b", kinds=["work"]) is None
    service.finish(database, job_id=first.id)
    assert service.claim(database, worker="b", kinds=["work"]) is not None


def test_failures_back_off_then_give_up(database: Database) -> None:
    job_id = _enqueue(database)
    for attempt in (1, 2):
        job = service.claim(database, worker="a", kinds=["work"])
        assert job is not None and job.attempts == attempt
        assert service.fail(database, job_id=job_id, error="boom", max_attempts=2) in (
            JobStatus.WAITING, JobStatus.FAILED
        )  # fmt: skip
        assert service.claim(database, worker="a", kinds=["work"]) is None  # backing off
        with database.session() as session:
            session.execute(update(Job).values(run_after=utcnow()))
    with database.session() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status is JobStatus.FAILED and job.error == "boom"


def test_jobs_of_a_dead_worker_run_again(database: Database) -> None:
    _enqueue(database)
    assert service.claim(database, worker="dead", kinds=["work"]) is not None
    assert service.requeue_stale(database, stale_after=60) == 0
    with database.session() as session:
        session.execute(update(Job).values(heartbeat_at=utcnow() - timedelta(seconds=120)))
    assert service.requeue_stale(database, stale_after=60) == 1
    assert service.claim(database, worker="alive", kinds=["work"]) is not None


def test_done_jobs_are_pruned(database: Database) -> None:
    job_id = _enqueue(database)
    service.finish(database, job_id=job_id)
    assert service.prune(database) == 0
    assert service.prune(database, older_than=timedelta(seconds=-1)) == 1


def test_worker_runs_and_retries(database: Database) -> None:
    seen: list[dict[str, Any]] = []

    def flaky(payload: dict[str, Any]) -> None:
        seen.append(payload)
        if len(seen) == 1:
            raise RuntimeError("transient")

    worker = Worker(database, {"work": flaky}, WorkerLimits(poll_s=0.05, heartbeat_s=0.1))
    job_id = _enqueue(database)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while len(seen) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        with database.session() as session:  # skip the 5 s backoff
            session.execute(update(Job).values(run_after=utcnow()))
        worker.wake()
        while time.monotonic() < deadline:
            with database.session() as session:
                job = session.get(Job, job_id)
                assert job is not None
                if job.status is JobStatus.DONE:
                    break
            time.sleep(0.05)
    finally:
        worker.stop()
    assert job.status is JobStatus.DONE and job.attempts == 2 and len(seen) == 2


def test_periodic_kinds_run_once_per_period(database: Database) -> None:
    runs: list[float] = []
    limits = WorkerLimits(poll_s=0.05, heartbeat_s=0.05)
    worker = Worker(
        database, {"tick": lambda _: runs.append(time.monotonic())}, limits, {"tick": 0.3}
    )
    started = time.monotonic()
    worker.start()
    try:
        deadline = started + 10
        while len(runs) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert len(runs) >= 2
    assert runs[0] - started >= 0.3  # not at start: `hugbox serve` heals before it listens
    assert runs[1] - runs[0] >= 0.25  # once per period, however often the heartbeat beats


def test_the_database_refuses_a_second_running_job_of_a_key(database: Database) -> None:
    """The migration's unique partial index: what keeps two racing claims from both winning."""
    with database.session() as session:
        session.add_all(Job(kind="work", key="k", status=JobStatus.WAITING) for _ in range(2))
        session.add(Job(kind="work", key="k", status=JobStatus.RUNNING))
        session.add(Job(kind="other", key="k", status=JobStatus.RUNNING))  # another kind may run
    with pytest.raises(Conflict), database.session() as session:
        session.add(Job(kind="work", key="k", status=JobStatus.RUNNING))
