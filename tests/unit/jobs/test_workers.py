"""Workers side by side, on SQLite and PostgreSQL, with real threads and a real process: they
never run one job twice nor two jobs of one key at once, a rolled-back enqueue never runs, a
killed worker's job runs again once it is stale, and on PostgreSQL a NOTIFY wakes an idle
worker at once (and a lost LISTEN connection only delays jobs)."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from hugbox.db import Database, utcnow
from hugbox.jobs import service
from hugbox.jobs.models import Job, JobStatus
from hugbox.jobs.worker import Worker, WorkerLimits

STUCK_WORKER = Path(__file__).with_name("stuck_worker.py")
IDLE = WorkerLimits(poll_s=30, listen_poll_s=30, heartbeat_s=30)  # only a NOTIFY wakes it


def _url(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


def _enqueue(database: Database, key: str) -> int:
    with database.session() as session:
        return service.enqueue(session, kind="work", key=key, payload={"key": key}).id


def _wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _job(database: Database, job_id: int) -> Job:
    with database.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_workers_never_share_a_job_nor_a_key(database: Database) -> None:
    with database.session() as session:  # eight waiting jobs per key, as retries can leave
        session.add_all(
            Job(kind="work", key=f"k{n % 4}", payload={"n": n, "key": f"k{n % 4}"})
            for n in range(32)
        )
    running: set[str] = set()
    ran: list[int] = []
    overlaps: list[str] = []
    lock = threading.Lock()

    def handler(payload: dict[str, Any]) -> None:
        with lock:
            if payload["key"] in running:
                overlaps.append(payload["key"])
            running.add(payload["key"])
            ran.append(payload["n"])
        time.sleep(0.01)
        with lock:
            running.discard(payload["key"])

    fast = WorkerLimits(threads=2, poll_s=0.01, listen_poll_s=0.01)
    databases = [Database(_url(database)) for _ in range(3)]  # three "processes"
    workers = [Worker(db, {"work": handler}, fast) for db in databases]
    for worker in workers:
        worker.start()
    try:
        _wait_until(lambda: len(ran) >= 32)
        time.sleep(0.1)  # a job run twice would show now
    finally:
        for worker in workers:
            worker.stop()
        for db in databases:
            db.engine.dispose()
    assert overlaps == [] and sorted(ran) == list(range(32))


def test_a_rolled_back_enqueue_never_runs(database: Database) -> None:
    ran: list[str] = []
    worker = Worker(database, {"work": lambda p: ran.append(p["key"])}, WorkerLimits(poll_s=0.02))
    worker.start()
    try:
        with pytest.raises(RuntimeError), database.session() as session:
            service.enqueue(session, kind="work", key="rolled-back", payload={"key": "rolled-back"})
            raise RuntimeError("the request failed after it enqueued")
        _enqueue(database, "committed")  # ready after the other: it would have run first
        _wait_until(lambda: bool(ran))
    finally:
        worker.stop()
    assert ran == ["committed"]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1


def test_a_killed_workers_job_runs_again_once_stale(database: Database, tmp_path: Path) -> None:
    job_id = _enqueue(database, "k")
    started = tmp_path / "started"
    process = subprocess.Popen([sys.executable, str(STUCK_WORKER), _url(database), str(started)])
    try:
        _wait_until(started.exists, timeout=60)
        assert _job(database, job_id).worker == started.read_text()
    finally:
        process.kill()
        process.wait()
    last_beat = _job(database, job_id).heartbeat_at
    assert last_beat is not None
    reruns: queue.Queue[datetime] = queue.Queue()
    limits = WorkerLimits(poll_s=0.02, heartbeat_s=0.1, stale_after_s=1.0)
    rescuer = Worker(database, {"work": lambda _: reruns.put(utcnow())}, limits)
    rescuer.start()
    try:
        rerun = reruns.get(timeout=20)
        _wait_until(lambda: _job(database, job_id).status is JobStatus.DONE)
    finally:
        rescuer.stop()
    # Not before it went stale, and then soon (on PostgreSQL: woken, not at the next 5 s poll).
    assert timedelta(seconds=1) <= rerun - last_beat < timedelta(seconds=4)
    assert _job(database, job_id).attempts == 2


def test_a_notification_wakes_an_idle_worker_at_once(postgresql: Database) -> None:
    starts: queue.Queue[float] = queue.Queue()
    worker = Worker(postgresql, {"work": lambda _: starts.put(time.monotonic())}, IDLE)
    worker.start()
    latencies = []
    try:
        assert worker.listener is not None and worker.listener.listening.wait(10)
        time.sleep(0.2)  # every thread is asleep, for 30 s unless notified
        for n in range(5):
            _enqueue(postgresql, f"k{n}")
            committed = time.monotonic()
            latencies.append(starts.get(timeout=5) - committed)
    finally:
        worker.stop()
    assert max(latencies) < 0.5, latencies


def test_a_lost_listen_connection_only_delays_jobs(postgresql: Database) -> None:
    ran: queue.Queue[str] = queue.Queue()
    limits = WorkerLimits(poll_s=0.1, listen_poll_s=30, heartbeat_s=30)
    worker = Worker(postgresql, {"work": lambda p: ran.put(p["key"])}, limits)
    worker.start()
    try:
        assert worker.listener is not None and worker.listener.listening.wait(10)
        with postgresql.session() as session:  # what a server restart or a proxy does to it
            ended = session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                )
            ).all()
        assert len(ended) == 1
        _wait_until(lambda: not worker.listener.listening.is_set(), timeout=5)
        _enqueue(postgresql, "while-deaf")
        assert ran.get(timeout=10) == "while-deaf"
        _wait_until(worker.listener.listening.is_set, timeout=10)  # and it listens again
    finally:
        worker.stop()
