"""Jobs: how soon a worker starts a job once its enqueue committed, with LISTEN/NOTIFY on
PostgreSQL against SQLite's polling worker, and how fast four threads claim 600 jobs on
PostgreSQL with `FOR UPDATE SKIP LOCKED` against the conditional-UPDATE claim it replaced there
(still SQLite's). In process, on a database of its own: no hub.

Run alone: .venv/bin/python bench/run.py --only jobs [--quick]
The server is HUGBOX_BENCH_POSTGRES_URL (a SQLAlchemy URL), by default the local one.
"""

from __future__ import annotations

import os
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from common import Result, Workspace, log, percentile
from hugbox.db import Database, migrate
from hugbox.jobs import service
from hugbox.jobs.models import Job
from hugbox.jobs.worker import Worker, WorkerLimits

SERVER_URL = os.environ.get(
    "HUGBOX_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TARGET_P50_MS = 20.0  # issue 17
CLAIM_JOBS = 600
CLAIM_THREADS = 4
Claim = Callable[..., Job | None]


@contextmanager
def _postgres_database() -> Iterator[str]:
    """A migrated database of this run's own, dropped afterwards; yields its URL."""
    name = f"hugbox_bench_jobs_{os.getpid()}"
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        url = make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
        migrate(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _pickup_latencies(database: Database, samples: int) -> list[float]:
    """Seconds from an enqueue's commit to its handler's start, one job at a time, enqueued at
    random moments (a poll's phase must not line up with the enqueues)."""
    starts: queue.Queue[float] = queue.Queue()
    worker = Worker(database, {"bench": lambda _: starts.put(time.perf_counter())}, WorkerLimits())
    worker.start()
    try:
        if worker.listener is not None:
            worker.listener.listening.wait(10)
        latencies = []
        for n in range(samples):
            time.sleep(random.uniform(0, WorkerLimits().poll_s))
            with database.session() as session:
                service.enqueue(session, kind="bench", key=f"k{n}", payload={})
            committed = time.perf_counter()
            latencies.append(starts.get(timeout=30) - committed)
        return latencies
    finally:
        worker.stop()


def _claims_per_s(database: Database, claim: Claim) -> float:
    """Four threads claim a freshly filled table (no ANALYZE yet, as in a burst) until empty."""
    with database.session() as session:
        session.execute(text("DELETE FROM jobs"))
        rows = [{"kind": "bench", "key": f"k{n}", "payload": {}} for n in range(CLAIM_JOBS)]
        session.execute(insert(Job), rows)
    claimed: list[int] = []

    def drain(name: str) -> None:
        while (job := claim(database, worker=name, kinds=["bench"])) is not None:
            claimed.append(job.id)

    threads = [threading.Thread(target=drain, args=(f"w{n}",)) for n in range(CLAIM_THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == CLAIM_JOBS
    return CLAIM_JOBS / elapsed


def _ms(samples: Sequence[float], pct: int) -> float:
    return percentile(list(samples), pct) * 1000


def _latency_result(pg: list[float], sqlite: list[float]) -> Result:
    p50, base = _ms(pg, 50), _ms(sqlite, 50)
    return Result(
        "job pick-up enqueue->start p50, PostgreSQL NOTIFY", f"{p50:.1f} ms",
        f"SQLite 0.5 s poll {base:.0f} ms", p50 / base, f"<= {TARGET_P50_MS:.0f} ms",
        p50 <= TARGET_P50_MS,
        note=f"job pick-up p95: PostgreSQL {_ms(pg, 95):.1f} ms, SQLite {_ms(sqlite, 95):.0f} ms "
        f"({len(pg)} and {len(sqlite)} jobs, from the enqueue's commit to the handler's start)",
    )  # fmt: skip


def _claim_result(skip_locked: float, old: float, sqlite: float) -> Result:
    return Result(
        f"job claims/s x{CLAIM_THREADS} threads, PostgreSQL SKIP LOCKED", f"{skip_locked:.0f}/s",
        f"old claim on PostgreSQL {old:.0f}/s", skip_locked / old, "> 1x", skip_locked > old,
        note=f"job claims: {CLAIM_JOBS} jobs on a freshly filled table; SQLite's conditional "
        f"UPDATE (kept there) {sqlite:.0f}/s",
    )  # fmt: skip


def run(ws: Workspace) -> list[Result]:
    samples = 20 if ws.quick else 60
    sqlite_url = f"sqlite:///{ws.root / 'jobs.db'}"
    migrate(sqlite_url)
    sqlite = Database(sqlite_url)
    with _postgres_database() as url:
        pg = Database(url)
        try:
            log(f"jobs: pick-up latency, {samples} jobs on each database")
            pg_latencies = _pickup_latencies(pg, samples)
            sqlite_latencies = _pickup_latencies(sqlite, samples)
            log(f"jobs: claim throughput, {CLAIM_JOBS} jobs, {CLAIM_THREADS} threads")
            old = _claims_per_s(pg, service.claim_by_update)
            skip_locked = _claims_per_s(pg, service.claim_skip_locked)
            sqlite_claims = _claims_per_s(sqlite, service.claim_by_update)
        finally:
            pg.engine.dispose()
            sqlite.engine.dispose()
    return [
        _latency_result(pg_latencies, sqlite_latencies),
        _claim_result(skip_locked, old, sqlite_claims),
    ]
