"""The worker loop: claim a job, run its handler, record the outcome; beat while running.

`hugbox serve` runs workers inside each server process (threads); `hugbox worker` runs them
alone. Both share the job table, so they can be mixed freely.
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
from typing import Any

from hugbox.db import Database
from hugbox.jobs import service
from hugbox.jobs.models import Job

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]
PERIODIC_KEY = "periodic"


@dataclass(frozen=True)
class WorkerLimits:
    threads: int = 1
    poll_s: float = 0.5
    heartbeat_s: float = 5.0
    stale_after_s: float = 60.0
    max_attempts: int = 5


class Worker:
    """Threads that run jobs of the kinds in `handlers` until `stop()`, and enqueue each kind in
    `periodic` ({kind: seconds}) once per its period."""

    def __init__(
        self, database: Database, handlers: Mapping[str, Handler], limits: WorkerLimits,
        periodic: Mapping[str, float] | None = None,
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

    def start(self) -> None:
        service.requeue_stale(self.database, stale_after=self.limits.stale_after_s)
        service.prune(self.database)
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
                self._wake.wait(self.limits.poll_s)
                self._wake.clear()

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
