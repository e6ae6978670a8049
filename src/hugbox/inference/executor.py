"""Runs pipeline calls in model worker processes: single-flight loading, LRU eviction within a
memory budget, bounded queues. `Executor` is the protocol a remote fleet (Ray Serve) can fill."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import pickle
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from hugbox.inference.errors import (
    ModelFailed,
    ModelLoading,
    ModelNotLoadable,
    ModelOverloaded,
    ModelTimeout,
)
from hugbox.inference.metrics import ExecutorEvents, NoEvents
from hugbox.inference.worker.generation import Chunk, Generated
from hugbox.inference.worker.onnx_runtime import OnnxOptions
from hugbox.inference.worker.process import Batch, Cancel, Job, Outcome, WorkerSpec, main
from hugbox.settings import InferenceDtype

log = logging.getLogger(__name__)
_WORKER_BASELINE = 400 * 1024**2  # a Python process with torch and transformers imported
# A generation batch starts once no request has joined its queue for _GATHER_QUIET_S.
_GATHER_QUIET_S, _GATHER_MAX_S = 0.005, 0.05
_PIPE_BUFFER = 64 * 1024  # what a pipe takes without waiting for its reader (Linux default)
_EXIT_GRACE_S = 5.0  # how long an idle worker asked to exit may take before it is killed


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
    ) -> AsyncGenerator[str | Outcome, None]: ...
    def loaded(self) -> list[ModelKey]: ...
    async def preload(self, key: ModelKey) -> None: ...
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
    deadline_s: float = 300.0  # a request still unanswered after this is given up (504)
    # Batches running at once across all models: workers x threads never exceed the cores.
    compute_slots: int = 1
    onnx: OnnxOptions | None = None  # None: encoders stay on transformers
    dtype: InferenceDtype = InferenceDtype.AUTO


@dataclass
class _Worker:
    key: ModelKey
    process: Any
    conn: Connection
    ready: asyncio.Future[int]
    started: float = field(default_factory=time.monotonic)
    pending: dict[int, asyncio.Future[Outcome]] = field(default_factory=dict)
    streams: dict[int, asyncio.Queue[str]] = field(default_factory=dict)
    queue: deque[Job] = field(default_factory=deque)  # admitted, not yet sent
    running: set[int] = field(default_factory=set)  # ids of the batch the process runs now
    batch_done: asyncio.Event = field(default_factory=asyncio.Event)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    dispatcher: asyncio.Task[None] | None = None
    pinned: bool = False
    last_used: float = field(default_factory=time.monotonic)
    rss: int = 0
    send_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def idle(self) -> bool:
        return not self.pending and not self.running

    @property
    def footprint(self) -> int:
        return self.rss or _WORKER_BASELINE + int(self.key.weights_bytes * 1.2)


class ProcessExecutor:
    """One worker process per loaded model; the process is the unit of isolation and eviction.
    Requests queue here; each model's dispatcher sends what queued as the next batch once the
    last one is answered and a compute slot is free."""

    def __init__(self, limits: ExecutorLimits, events: ExecutorEvents | None = None):
        self.limits = limits
        self.events = events or NoEvents()  # loads, evictions, batches: for metrics
        self._workers: dict[ModelKey, _Worker] = {}
        self._ids = itertools.count(1)
        self._context = multiprocessing.get_context("spawn")
        self._slots = asyncio.Semaphore(max(1, limits.compute_slots))
        self._owners: dict[int, _Worker] = {}  # job id -> the worker holding it now

    def loaded(self) -> list[ModelKey]:
        return [k for k, w in self._workers.items() if w.ready.done() and not w.ready.exception()]

    def next_job_id(self) -> int:
        return next(self._ids)

    async def preload(self, key: ModelKey) -> None:
        """Load `key` now and keep it: pinned models are never evicted."""
        worker = self._workers.get(key) or self._start(key)
        worker.pinned = True
        await asyncio.shield(worker.ready)

    async def run(self, key: ModelKey, job: Job, *, wait_for_model: bool | None) -> Outcome:
        worker = await self._admit(key, job, wait_for_model)
        try:
            return await self._within_deadline(worker, worker.pending[job.id])
        finally:
            self._release(job)

    async def stream(
        self, key: ModelKey, job: Job, *, wait_for_model: bool | None
    ) -> AsyncGenerator[str | Outcome, None]:
        """Text chunks as the worker produces them, then the job's final Outcome. Closing the
        iterator early (the client went away) stops the generation."""
        worker = await self._admit(key, job, wait_for_model)
        future = worker.pending[job.id]
        chunks: asyncio.Queue[str] = asyncio.Queue()
        worker.streams[job.id] = chunks
        try:
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
            self._release(job)

    async def _admit(self, key: ModelKey, job: Job, wait_for_model: bool | None) -> _Worker:
        """Queue `job` on the model's worker, starting (or waiting for) it as needed."""
        worker = self._workers.get(key) or self._start(key)
        if not worker.ready.done():
            await self._await_ready(worker, wait_for_model)
        worker.ready.result()  # re-raises a failed load
        if len(worker.pending) >= self.limits.max_queue:
            raise ModelOverloaded()
        worker.last_used = time.monotonic()
        worker.pending[job.id] = asyncio.get_running_loop().create_future()
        worker.queue.append(job)
        worker.wakeup.set()
        self._owners[job.id] = worker
        return worker

    async def _within_deadline(self, worker: _Worker, future: asyncio.Future[Outcome]) -> Outcome:
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.limits.deadline_s)
        except TimeoutError:
            raise ModelTimeout(worker.key.repo_id, self.limits.deadline_s) from None

    def _release(self, job: Job) -> None:
        """The caller is done with `job`: answered, failed, or gone. A job still running is
        cancelled in the worker; one still queued is simply never sent."""
        worker = self._owners.pop(job.id, None)
        if worker is None:
            return
        future = worker.pending.pop(job.id, None)
        worker.streams.pop(job.id, None)
        worker.last_used = time.monotonic()
        if future is not None and not future.done() and job.id in worker.running:
            log.info("cancelling job %d on %s: its client went away", job.id, worker.key.repo_id)
            self._send(worker, Cancel(job.id))

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
        limits = self.limits
        spec = WorkerSpec(key.model_dir, key.task, limits.threads, limits.onnx, limits.dtype)
        process = self._context.Process(target=main, args=(child, spec), daemon=True)
        process.start()
        child.close()
        loop = asyncio.get_running_loop()
        worker = _Worker(key=key, process=process, conn=parent, ready=loop.create_future())
        for older in self._workers.values():  # a pinned model's new commit takes over its pin
            if older.key.repo_id == key.repo_id and older.pinned:
                older.pinned, worker.pinned = False, True
        self._workers[key] = worker
        loop.add_reader(parent.fileno(), self._on_readable, worker)
        # uvloop's add_reader makes the socket non-blocking, so a message bigger than its buffer
        # (an answer of 64 vectors of 384 floats) stopped recv midway with BlockingIOError, which
        # read as the worker's death. A message is read once it starts to arrive, and its sender
        # writes all of it at once: blocking waits out the rest.
        os.set_blocking(parent.fileno(), True)
        worker.dispatcher = loop.create_task(self._dispatch(worker))
        log.info("loading %s (%s) in worker %s", key.repo_id, key.task, process.pid)
        return worker

    def _make_room(self, key: ModelKey) -> None:
        """Evict idle models, least recently used first, until the new one fits the budget."""
        needed = _WORKER_BASELINE + int(key.weights_bytes * 1.2)
        idle = sorted(
            (w for w in self._workers.values() if w.idle and w.ready.done() and not w.pinned),
            key=lambda w: w.last_used,
        )
        while idle and needed + sum(w.footprint for w in self._workers.values()) > (
            self.limits.memory_budget
        ):
            self._stop(idle.pop(0), reason="memory budget")

    def _stop(self, worker: _Worker, *, reason: str) -> None:
        log.info("evicting %s (%s)", worker.key.repo_id, reason)
        self.events.evicted(worker.key, reason)
        self._workers.pop(worker.key, None)
        if worker.dispatcher is not None:
            worker.dispatcher.cancel()
        if worker.idle and worker.ready.done():
            # A worker that exits on its own runs its finalizers: the semaphores its libraries
            # made (tqdm's progress-bar lock, for one) are released, not reported as leaked.
            self._send(worker, None)
            asyncio.get_running_loop().call_later(_EXIT_GRACE_S, _terminate, worker.process)
        else:
            worker.process.terminate()
        self._close_pipe(worker)

    async def _dispatch(self, worker: _Worker) -> None:
        """Sends the worker its batches, one at a time, each holding a compute slot."""
        await asyncio.shield(worker.ready)
        while True:
            await worker.wakeup.wait()
            worker.wakeup.clear()
            await self._gather(worker)
            while batch := self._next_batch(worker):
                async with self._slots:
                    worker.running = {job.id for job in batch}
                    self.events.batch_started(worker.key, batch)
                    worker.batch_done.clear()
                    await self._send_batch(worker, Batch(batch))
                    await worker.batch_done.wait()

    async def _gather(self, worker: _Worker) -> None:
        """Let a burst of requests arrive before the first of them starts a batch alone. Only
        generation waits (a few ms against seconds of decoding, and decoding cannot take
        newcomers once it has started); others wait only if `max_wait_s` asks."""
        if self.limits.max_wait_s:
            await asyncio.sleep(self.limits.max_wait_s)
        if not (worker.queue and worker.queue[0].generate):
            return
        deadline = time.monotonic() + _GATHER_MAX_S
        while len(worker.queue) < self.limits.max_batch and time.monotonic() < deadline:
            arrived = len(worker.queue)
            await asyncio.sleep(_GATHER_QUIET_S)
            if len(worker.queue) == arrived:
                return

    def _next_batch(self, worker: _Worker) -> list[Job]:
        """Up to `max_batch` queued jobs whose callers are still waiting."""
        batch: list[Job] = []
        while worker.queue and len(batch) < self.limits.max_batch:
            job = worker.queue.popleft()
            if job.id in worker.pending:
                batch.append(job)
        return batch

    async def _send_batch(self, worker: _Worker, batch: Batch) -> None:
        """A small batch goes straight into the pipe; a large one (images, long lists) from a
        thread, so that the worker's reading pace never blocks the event loop."""
        data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) <= _PIPE_BUFFER:
            self._send_bytes(worker, data)
        else:
            await asyncio.to_thread(self._send_bytes, worker, data)

    def _send(self, worker: _Worker, message: Cancel | None) -> None:
        self._send_bytes(worker, pickle.dumps(message))

    def _send_bytes(self, worker: _Worker, data: bytes) -> None:
        # OSError: the process has gone, which `_on_readable` reports.
        with worker.send_lock, contextlib.suppress(OSError):
            worker.conn.send_bytes(data)

    def _on_readable(self, worker: _Worker) -> None:
        """Hands each message the worker sent to the waiting request, on the event loop: no
        reader thread, no hop between threads on the way back."""
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                if worker.ready.done():
                    self._deliver(worker, message)
                else:
                    self._on_first_message(worker, message)
        except (EOFError, OSError):
            self._on_exit(worker)

    def _on_first_message(self, worker: _Worker, message: tuple[str, Any]) -> None:
        kind, value = message
        if kind == "ready":
            worker.rss = int(value)
            worker.ready.set_result(worker.rss)
            self.events.loaded(worker.key, time.monotonic() - worker.started)
            log.info("%s ready, %d MB resident", worker.key.repo_id, worker.rss // 2**20)
        else:
            self._workers.pop(worker.key, None)
            self.events.load_failed(worker.key)
            worker.ready.set_exception(
                ModelNotLoadable(f"Could not load model {worker.key.repo_id}: {value}")
            )

    def _deliver(self, worker: _Worker, message: Outcome | Chunk) -> None:
        if isinstance(message, Chunk):
            queue = worker.streams.get(message.id)
            if queue is not None:
                queue.put_nowait(message.text)
            return
        worker.running.discard(message.id)
        if not worker.running:
            worker.batch_done.set()
        future = worker.pending.get(message.id)
        if future is not None and not future.done():
            future.set_result(message)
        elif future is None and message.ok and isinstance(message.value, list):
            stopped = [g for g in message.value if isinstance(g, Generated)]
            tokens = sum(g.completion_tokens for g in stopped)
            log.info("job %d stopped after %d generated tokens", message.id, tokens)

    def _on_exit(self, worker: _Worker) -> None:
        self._close_pipe(worker)
        if self._workers.get(worker.key) is worker:  # neither evicted nor failed to load: a crash
            del self._workers[worker.key]
            log.warning("worker %s serving %s stopped", worker.process.pid, worker.key.repo_id)
            self.events.evicted(worker.key, "crash")
            self._requeue(worker)
        if worker.dispatcher is not None:
            worker.dispatcher.cancel()
        worker.batch_done.set()
        error = ModelFailed(f"The worker serving {worker.key.repo_id} stopped; retry the request")
        if not worker.ready.done():
            worker.ready.set_exception(error)
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(error)

    def _requeue(self, crashed: _Worker) -> None:
        """Requests that never reached a crashed worker go to a new one; only the batch it was
        running fails (a model that crashes while loading is not restarted)."""
        unsent = [job for job in crashed.queue if job.id in crashed.pending]
        if not unsent or not crashed.ready.done() or crashed.ready.exception() is not None:
            return
        replacement = self._start(crashed.key)
        for job in unsent:
            replacement.pending[job.id] = crashed.pending.pop(job.id)
            if job.id in crashed.streams:
                replacement.streams[job.id] = crashed.streams.pop(job.id)
            replacement.queue.append(job)
            self._owners[job.id] = replacement
        replacement.wakeup.set()
        log.info(
            "%d waiting request(s) for %s moved to a new worker", len(unsent), crashed.key.repo_id
        )

    def _close_pipe(self, worker: _Worker) -> None:
        if not worker.conn.closed:
            asyncio.get_running_loop().remove_reader(worker.conn.fileno())
            worker.conn.close()

    async def close(self) -> None:
        workers = list(self._workers.values())
        for worker in workers:
            self._stop(worker, reason="shutdown")
        await asyncio.to_thread(_reap, [w.process for w in workers])


def _terminate(process: Any) -> None:
    if process.is_alive():
        process.terminate()


def _reap(processes: list[Any]) -> None:
    """Wait for stopping workers to exit, killing those that outstay the grace period."""
    deadline = time.monotonic() + _EXIT_GRACE_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        _terminate(process)
        process.join(_EXIT_GRACE_S)
