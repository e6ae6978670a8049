"""The worker loop: claim a job, run its handler, record the outcome; beat while running.

`hugbox serve` runs workers inside each server process (threads); `hugbox worker` runs them
alone. Both share the job table, so they can be mixed freely. On SQLite an idle worker polls the
table; on PostgreSQL it sleeps until a NOTIFY from `enqueue` wakes it (jobs/listener.py), and
polls only slowly, as a safety net.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hugbox.db import Database
from hugbox.jobs import service
from hugbox.jobs.models import Job

if TYPE_CHECKING:
    from hugbox.jobs.listener import Listener

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]
PERIODIC_KEY = "periodic"


@dataclass(frozen=True)
class WorkerLimits:
    threads: int = 1
    poll_s: float = 0.5
    # PostgreSQL, while LISTEN is in force: the poll that only catches what a lost notification,
    # or a retry whose backoff ended, left waiting.
    listen_poll_s: float = 5.0
    heartbeat_s: float = 5.0
    stale_after_s: float = 60.0
    max_attempts: int = 5


class Worker:
    """Threads that run jobs of the kinds in `handlers` until `stop()`, and enqueue each kind in
    `periodic` ({kind: seconds}) once per its period. On PostgreSQL they LISTEN on
    `listen_url` (default: the database's own URL), which must reach the server directly."""

    def __init__(
        self, database: Database, handlers: Mapping[str, Handler], limits: WorkerLimits,
        periodic: Mapping[str, float] | None = None, listen_url: str | None = None,
    ) -> None:  # fmt: skip
        self.database = database
        self.handlers = dict(handlers)
        self.limits = limits
        now = time.monotonic()
        self._due = {kind: now + period for kind, period in (periodic or {}).items() if period > 0}
        self._periods = dict(periodic or {})
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.listener = self._listener_for(listen_url)

    def _listener_for(self, listen_url: str | None) -> Listener | None:
        engine = self.database.engine
        if engine.dialect.name != "postgresql":
            return None  # SQLite: one machine, polling a local file is cheap
        # Imported here: psycopg is installed only where PostgreSQL is used.
        from hugbox.jobs.listener import Listener

        url = listen_url or engine.url.render_as_string(hide_password=False)
        return Listener(url, self.wake, self._stop)

    def start(self) -> None:
        service.requeue_stale(self.database, stale_after=self.limits.stale_after_s)
        service.prune(self.database)
        if self.listener is not None:
            self._spawn(self.listener.run, "job-listener")
        for index in range(self.limits.threads):
            self._spawn(self._loop, f"job-worker-{index}")
        self._spawn(self._beat, "job-heartbeat")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        # Daemon threads: a conversion in progress must not keep a stopping server alive; its
        # job is released (or found stale) and runs again.
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def wake(self) -> None:
        """Look for work now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        service.release(self.database, worker=self.name)

    def run_forever(self) -> None:
        self.start()
        try:
            self._stop.wait()
        finally:
            self.stop()

    def run_once(self) -> bool:
        """Claim and run one job; False when none was ready."""
        job = service.claim(self.database, worker=self.name, kinds=list(self.handlers))
        if job is None:
            return False
        self._run(job)
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # the database went away for a moment: poll again later
                log.exception("job worker error")
                busy = False
            if not busy:
                self._wake.wait(self._idle_s())
                self._wake.clear()

    def _idle_s(self) -> float:
        """How long an idle thread sleeps unless woken: long while notifications will wake it."""
        if self.listener is not None and self.listener.listening.is_set():
            return self.limits.listen_poll_s
        return self.limits.poll_s

    def _run(self, job: Job) -> None:
        log.info("job %s %s %s: attempt %s", job.id, job.kind, job.key, job.attempts)
        try:
            self.handlers[job.kind](dict(job.payload))
        except Exception as exc:
            if self._stop.is_set():
                return  # interrupted by shutdown: released, not failed
            status = service.fail(
                self.database,
                job_id=job.id,
                error="".join(traceback.format_exception(exc)),
                max_attempts=self.limits.max_attempts,
            )
            log.warning("job %s %s %s failed (%s): %r", job.id, job.kind, job.key, status, exc)
            return
        service.finish(self.database, job_id=job.id)

    def _beat(self) -> None:
        while not self._stop.wait(self.limits.heartbeat_s):
            try:
                service.heartbeat(self.database, worker=self.name)
                service.requeue_stale(self.database, stale_after=self.limits.stale_after_s)
                self._enqueue_due()
            except Exception:
                log.exception("job heartbeat error")

    def _enqueue_due(self) -> None:
        """Enqueue the periodic kinds whose time came; one waiting job serves every worker."""
        now = time.monotonic()
        for kind, due in self._due.items():
            if now >= due:
                self._due[kind] = now + self._periods[kind]
                with self.database.session() as session:
                    if not service.pending(session, kind=kind, key=PERIODIC_KEY):
                        service.enqueue(session, kind=kind, key=PERIODIC_KEY, payload={})
                self.wake()
