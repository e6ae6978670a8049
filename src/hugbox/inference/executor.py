"""Runs pipeline calls in model worker processes: single-flight loading, LRU eviction within a
memory budget, bounded queues. `Executor` is the protocol a remote fleet (Ray Serve) can fill."""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from hugbox.inference.errors import ModelFailed, ModelLoading, ModelOverloaded
from hugbox.inference.generation import Chunk
from hugbox.inference.worker import Job, Outcome, WorkerSpec, main

log = logging.getLogger(__name__)
_WORKER_BASELINE = 400 * 1024**2  # a Python process with torch and transformers imported


@dataclass(frozen=True)
class ModelKey:
    """One loadable model: a commit's folder, the pipeline task it runs, its weights' size."""

    repo_id: str
    model_dir: Path
    task: str
    weights_bytes: int


class Executor(Protocol):
    def next_job_id(self) -> int: ...
    async def run(self, key: ModelKey, job: Job, *, wait_for_model: bool | None) -> Outcome: ...
    def stream(
        self, key: ModelKey, job: Job, *, wait_for_model: bool | None
    ) -> AsyncIterator[str | Outcome]: ...
    def loaded(self) -> list[ModelKey]: ...
    async def close(self) -> None: ...


@dataclass(frozen=True)
class ExecutorLimits:
    memory_budget: int
    threads: int = 1
    max_batch: int = 32
    # 0: a batch is whatever queued while the last one ran; waiting only delays a lone request.
    max_wait_s: float = 0.0
    max_queue: int = 64
    load_timeout_s: float = 120.0


@dataclass
class _Worker:
    key: ModelKey
    process: Any
    conn: Connection
    ready: asyncio.Future[int]
    started: float = field(default_factory=time.monotonic)
    pending: dict[int, asyncio.Future[Outcome]] = field(default_factory=dict)
    streams: dict[int, asyncio.Queue[str]] = field(default_factory=dict)
    last_used: float = field(default_factory=time.monotonic)
    rss: int = 0
    send_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def footprint(self) -> int:
        return self.rss or _WORKER_BASELINE + int(self.key.weights_bytes * 1.2)


class ProcessExecutor:
    """One worker process per loaded model; the process is the unit of isolation and eviction."""

    def __init__(self, limits: ExecutorLimits):
        self.limits = limits
        self._workers: dict[ModelKey, _Worker] = {}
        self._ids = itertools.count(1)
        self._context = multiprocessing.get_context("spawn")

    def loaded(self) -> list[ModelKey]:
        return [k for k, w in self._workers.items() if w.ready.done() and not w.ready.exception()]

    async def run(self, key: ModelKey, job: Job, *, wait_for_model: bool | None) -> Outcome:
        worker = await self._admit(key, wait_for_model)
        future = self._register(worker, job)
        try:
            await asyncio.to_thread(self._send, worker, job)
            return await future
        finally:
            self._release(worker, job)

    async def stream(
        self, key: ModelKey, job: Job, *, wait_for_model: bool | None
    ) -> AsyncIterator[str | Outcome]:
        """Text chunks as the worker produces them, then the job's final Outcome."""
        worker = await self._admit(key, wait_for_model)
        future = self._register(worker, job)
        chunks: asyncio.Queue[str] = asyncio.Queue()
        worker.streams[job.id] = chunks
        try:
            await asyncio.to_thread(self._send, worker, job)
            while not (future.done() and chunks.empty()):
                getter: asyncio.Future[Any] = asyncio.ensure_future(chunks.get())
                waiting: set[asyncio.Future[Any]] = {getter, future}
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    yield getter.result()
                else:
                    getter.cancel()
            yield future.result()
        finally:
            self._release(worker, job)

    async def _admit(self, key: ModelKey, wait_for_model: bool | None) -> _Worker:
        worker = self._workers.get(key) or self._start(key)
        if not worker.ready.done():
            await self._await_ready(worker, wait_for_model)
        worker.ready.result()  # re-raises a failed load
        if len(worker.pending) >= self.limits.max_queue:
            raise ModelOverloaded()
        return worker

    def _register(self, worker: _Worker, job: Job) -> asyncio.Future[Outcome]:
        worker.last_used = time.monotonic()
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        worker.pending[job.id] = future
        return future

    def _release(self, worker: _Worker, job: Job) -> None:
        worker.pending.pop(job.id, None)
        worker.streams.pop(job.id, None)
        worker.last_used = time.monotonic()

    def next_job_id(self) -> int:
        return next(self._ids)

    async def _await_ready(self, worker: _Worker, wait_for_model: bool | None) -> None:
        elapsed = time.monotonic() - worker.started
        if wait_for_model is False:
            raise ModelLoading(worker.key.repo_id, self._estimate(worker) - elapsed)
        try:
            await asyncio.wait_for(asyncio.shield(worker.ready), self.limits.load_timeout_s)
        except TimeoutError:
            raise ModelLoading(worker.key.repo_id, self._estimate(worker) - elapsed) from None

    def _estimate(self, worker: _Worker) -> float:
        # Importing torch costs ~5 s here; weights then load at roughly 200 MB/s.
        return 5.0 + worker.key.weights_bytes / 200e6

    def _start(self, key: ModelKey) -> _Worker:
        self._make_room(key)
        parent, child = self._context.Pipe()
        spec = WorkerSpec(
            model_dir=key.model_dir,
            task=key.task,
            threads=self.limits.threads,
            max_batch=self.limits.max_batch,
            max_wait_s=self.limits.max_wait_s,
        )
        process = self._context.Process(target=main, args=(child, spec), daemon=True)
        process.start()
        child.close()
        loop = asyncio.get_running_loop()
        worker = _Worker(key=key, process=process, conn=parent, ready=loop.create_future())
        self._workers[key] = worker
        threading.Thread(target=self._read, args=(worker, loop), daemon=True).start()
        log.info("loading %s (%s) in worker %s", key.repo_id, key.task, process.pid)
        return worker

    def _make_room(self, key: ModelKey) -> None:
        """Evict idle models, least recently used first, until the new one fits the budget."""
        needed = _WORKER_BASELINE + int(key.weights_bytes * 1.2)
        idle = sorted(
            (w for w in self._workers.values() if not w.pending and w.ready.done()),
            key=lambda w: w.last_used,
        )
        while idle and needed + sum(w.footprint for w in self._workers.values()) > (
            self.limits.memory_budget
        ):
            self._stop(idle.pop(0), reason="memory budget")

    def _stop(self, worker: _Worker, *, reason: str) -> None:
        log.info("evicting %s (%s)", worker.key.repo_id, reason)
        self._workers.pop(worker.key, None)
        worker.process.terminate()

    def _send(self, worker: _Worker, job: Job) -> None:
        with worker.send_lock:
            worker.conn.send(job)

    def _read(self, worker: _Worker, loop: asyncio.AbstractEventLoop) -> None:
        """Reader thread: hands each message from the worker to the waiting request."""
        try:
            first = worker.conn.recv()
            loop.call_soon_threadsafe(self._on_first_message, worker, first)
            while True:
                message: Outcome | Chunk = worker.conn.recv()
                loop.call_soon_threadsafe(self._deliver, worker, message)
        except (EOFError, OSError):
            loop.call_soon_threadsafe(self._on_exit, worker)

    def _on_first_message(self, worker: _Worker, message: tuple[str, Any]) -> None:
        kind, value = message
        if kind == "ready":
            worker.rss = int(value)
            worker.ready.set_result(worker.rss)
            log.info("%s ready, %d MB resident", worker.key.repo_id, worker.rss // 2**20)
        else:
            self._workers.pop(worker.key, None)
            worker.ready.set_exception(
                ModelFailed(f"Model {worker.key.repo_id} failed to load: {value}")
            )

    def _deliver(self, worker: _Worker, message: Outcome | Chunk) -> None:
        if isinstance(message, Chunk):
            queue = worker.streams.get(message.id)
            if queue is not None:
                queue.put_nowait(message.text)
            return
        future = worker.pending.get(message.id)
        if future is not None and not future.done():
            future.set_result(message)

    def _on_exit(self, worker: _Worker) -> None:
        if self._workers.get(worker.key) is worker:  # neither evicted nor failed to load: a crash
            del self._workers[worker.key]
            log.warning("worker %s serving %s stopped", worker.process.pid, worker.key.repo_id)
        error = ModelFailed(f"The worker serving {worker.key.repo_id} stopped; retry the request")
        if not worker.ready.done():
            worker.ready.set_exception(error)
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(error)

    async def close(self) -> None:
        for worker in list(self._workers.values()):
            self._stop(worker, reason="shutdown")
