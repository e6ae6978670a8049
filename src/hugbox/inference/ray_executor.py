"""`Executor` on a Ray Serve fleet: each call is one HTTP request to the hugbox application
(`worker/ray_app`), whose replicas load models by repo id and commit, batch, and stream. Every
hub process shares those replicas, so a model loads once for the whole hub.

The hub keeps what the embedded executor promises its clients: a bounded queue per model
(429), `wait_for_model` (503 with an estimate, or a wait bounded by the load timeout), a deadline
(504), and cancellation when a client leaves (closing the stream closes the HTTP request, and
Serve cancels the replica's work).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from hugbox.auth import grants
from hugbox.inference import fleet
from hugbox.inference.errors import (
    ModelFailed,
    ModelLoading,
    ModelNotLoadable,
    ModelOverloaded,
    ModelTimeout,
)
from hugbox.inference.executor import ExecutorLimits, ModelKey
from hugbox.inference.fleet import FleetCall, LoadFailed, Loading, Reply
from hugbox.inference.metrics import ExecutorEvents, NoEvents
from hugbox.inference.worker.process import Job, Outcome

log = logging.getLogger(__name__)
_SEEN_TTL_S = 60.0  # a model that answered this recently is taken to be loaded
_SENDS_PER_MODEL = 2  # calls a model has on their way at once: the next batch gathers meanwhile


class RayServeExecutor:
    def __init__(
        self,
        limits: ExecutorLimits,
        *,
        serve_url: str,
        hub_url: str,
        secret: bytes,
        pinned: frozenset[str] = frozenset(),
        events: ExecutorEvents | None = None,
    ):
        self.limits = limits
        self.events = events or NoEvents()
        self._serve_url = serve_url.rstrip("/")
        self._hub_url = hub_url.rstrip("/")
        self._secret = secret
        self._key = fleet.fleet_key(secret)
        self._pinned = pinned
        self._ids = itertools.count(1)
        self._seen: dict[ModelKey, float] = {}  # when each model last answered
        self._grants: dict[ModelKey, tuple[str, float]] = {}  # a model's grant, when minted
        self._in_flight: Counter[ModelKey] = Counter()
        self._waiting: dict[ModelKey, list[tuple[Job, asyncio.Future[Outcome]]]] = {}
        self._sending: Counter[ModelKey] = Counter()  # calls on their way, per model
        self._tasks: set[asyncio.Task[None]] = set()
        timeout = httpx.Timeout(limits.deadline_s, connect=10.0)
        pool = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        self._client = httpx.AsyncClient(timeout=timeout, limits=pool)

    def next_job_id(self) -> int:
        return next(self._ids)

    def loaded(self) -> list[ModelKey]:
        """Best effort: the models that answered within the last minute."""
        return [key for key in self._seen if self._answered_lately(key)]

    def _answered_lately(self, key: ModelKey) -> bool:
        return time.monotonic() - self._seen.get(key, -_SEEN_TTL_S) < _SEEN_TTL_S

    async def preload(self, key: ModelKey) -> None:
        """Load `key` now; a pinned model's own application keeps it."""
        await self._call(key, None, wait=True, limit_s=self.limits.load_timeout_s)

    async def run(self, key: ModelKey, job: Job, *, wait_for_model: bool | None) -> Outcome:
        async with self._admitted(key, wait_for_model):
            if wait_for_model is False:  # may answer 503 on its own: not batched with others
                outcome = await self._call(key, job, wait=False)
                assert isinstance(outcome, Outcome)
                return outcome
            future = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(key, []).append((job, future))
            self._dispatch(key)
            try:
                return await asyncio.wait_for(asyncio.shield(future), self.limits.deadline_s)
            except TimeoutError:
                raise ModelTimeout(key.repo_id, self.limits.deadline_s) from None
            finally:
                future.cancel()  # a caller gone before its batch left is never sent

    def _dispatch(self, key: ModelKey) -> None:
        """Send what queued for `key` as one call, up to `_SENDS_PER_MODEL` calls at a time: as
        ProcessExecutor sends what queued while the last batch ran. One request through Serve's
        proxy for many callers (its per-request cost is the fleet's bottleneck); the replica
        hands each job to `serve.batch`, which merges them with other hub processes' jobs."""
        waiting = self._waiting.get(key, [])
        while waiting and self._sending[key] < _SENDS_PER_MODEL:
            batch = [(j, f) for j, f in waiting[: self.limits.max_batch] if not f.done()]
            del waiting[: self.limits.max_batch]
            if batch:
                self._sending[key] += 1
                task = asyncio.get_running_loop().create_task(self._send_batch(key, batch))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        if not waiting:
            self._waiting.pop(key, None)

    async def _send_batch(
        self, key: ModelKey, batch: list[tuple[Job, asyncio.Future[Outcome]]]
    ) -> None:
        jobs = [job for job, _ in batch]
        call = asyncio.ensure_future(self._call(key, jobs, wait=True))
        futures = [future for _, future in batch]
        for future in futures:
            future.add_done_callback(lambda _: _cancel_if_abandoned(call, futures))
        try:
            outcomes = await call
            assert isinstance(outcomes, list)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
        except asyncio.CancelledError:
            if not all(future.cancelled() for future in futures):
                raise  # this task was cancelled (the executor closes), not the call
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        finally:
            self._sending[key] -= 1
            if not self._sending[key]:
                del self._sending[key]
            self._dispatch(key)

    async def stream(
        self, key: ModelKey, job: Job, *, wait_for_model: bool | None
    ) -> AsyncGenerator[str | Outcome, None]:
        """Text chunks as the replica sends them, then the job's Outcome. Closing the iterator
        early closes the request: Serve cancels the replica's generator, which stops decoding."""
        async with self._admitted(key, wait_for_model):
            call = self._fleet_call(key, job, wait=wait_for_model is not False)
            request = self._client.build_request(
                "POST", self._url(key), content=fleet.pack(self._key, call), headers=_headers(call)
            )
            response = await self._send(key, request, stream=True)
            try:
                async for item in self._events(key, response):
                    yield item
            finally:
                await response.aclose()

    @asynccontextmanager
    async def _admitted(self, key: ModelKey, wait_for_model: bool | None) -> AsyncIterator[None]:
        """A place in the model's queue, once the model is known to be loaded: a model not seen
        lately is loaded first by a call of its own, bounded by the load timeout."""
        if self._in_flight[key] >= self.limits.max_queue:
            raise ModelOverloaded()
        self._in_flight[key] += 1
        try:
            if not self._answered_lately(key) and wait_for_model is not False:
                await self._load(key)
            yield
        finally:
            self._in_flight[key] -= 1
            if not self._in_flight[key]:
                del self._in_flight[key]

    async def _load(self, key: ModelKey) -> None:
        started = time.monotonic()
        try:
            await self._call(key, None, wait=True, limit_s=self.limits.load_timeout_s)
        except ModelTimeout:
            elapsed = time.monotonic() - started
            estimate = fleet.estimate_load_s(key.weights_bytes, elapsed)
            raise ModelLoading(key.repo_id, estimate) from None

    async def _call(
        self, key: ModelKey, job: Job | list[Job] | None, *, wait: bool,
        limit_s: float | None = None,
    ) -> Outcome | list[Outcome] | None:  # fmt: skip
        call = self._fleet_call(key, job, wait=wait)
        request = self._client.build_request(
            "POST", self._url(key), content=fleet.pack(self._key, call), headers=_headers(call),
            timeout=limit_s or self.limits.deadline_s,
        )  # fmt: skip
        response = await self._send(key, request, stream=False)
        return self._settle(key, fleet.unpack(self._key, response.content))

    async def _send(self, key: ModelKey, request: httpx.Request, *, stream: bool) -> httpx.Response:
        try:
            response = await self._client.send(request, stream=stream)
        except httpx.TimeoutException:
            raise ModelTimeout(key.repo_id, self.limits.deadline_s) from None
        except httpx.TransportError as exc:
            raise ModelFailed(f"The model server for {key.repo_id} is unreachable: {exc}") from None
        if response.status_code == 200:
            return response
        await response.aread()
        await response.aclose()
        raise _serve_error(key, response)

    async def _events(
        self, key: ModelKey, response: httpx.Response
    ) -> AsyncIterator[str | Outcome]:
        try:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                item = fleet.read_event(self._key, line)
                if isinstance(item, str):
                    yield item
                    continue
                outcome = self._settle(key, item)
                if isinstance(outcome, Outcome):
                    yield outcome
                return
        except httpx.TransportError as exc:  # the replica died mid-stream
            raise ModelFailed(f"The model server for {key.repo_id} stopped: {exc}") from None
        raise ModelFailed(f"The model server for {key.repo_id} ended the stream early")

    def _settle(self, key: ModelKey, reply: Reply) -> Outcome | list[Outcome] | None:
        """The reply's outcome, or the error it stands for; a model that answered is noted."""
        value = reply.value
        if isinstance(value, Loading):
            raise ModelLoading(key.repo_id, value.estimated_s)
        if isinstance(value, LoadFailed):
            self.events.load_failed(key)
            raise ModelNotLoadable(f"Could not load model {key.repo_id}: {value.message}")
        if reply.loaded_s is not None:
            self.events.loaded(key, reply.loaded_s)
        self._seen[key] = time.monotonic()
        return value

    def _fleet_call(self, key: ModelKey, job: Job | list[Job] | None, *, wait: bool) -> FleetCall:
        revision = key.model_dir.name  # a snapshot folder is named after its commit
        return FleetCall(
            key.repo_id, revision, key.task, key.weights_bytes, self._hub_url,
            self._grant(key, revision), job, wait,
        )  # fmt: skip

    def _grant(self, key: ModelKey, revision: str) -> str:
        """The model's read grant, minted again once half its life is gone: a replica may
        start a download with it at any time."""
        held = self._grants.get(key)
        if held is not None and time.monotonic() - held[1] < grants.TTL_S / 2:
            return held[0]
        grant = grants.mint(self._secret, repo_type="model", repo_id=key.repo_id, revision=revision)
        self._grants[key] = (grant, time.monotonic())
        return grant

    def _url(self, key: ModelKey) -> str:
        route = fleet.pinned_route(key.repo_id) if key.repo_id in self._pinned else fleet.ROUTE
        return self._serve_url + route

    async def close(self) -> None:
        await self._client.aclose()


def _headers(call: FleetCall) -> dict[str, str]:
    return {fleet.MODEL_HEADER: call.model_id, "content-type": "application/octet-stream"}


def _serve_error(key: ModelKey, response: httpx.Response) -> Exception:
    """Serve's own refusals: a full queue (or no replica yet) is the embedded executor's 429."""
    if response.status_code in (429, 503):
        retry = response.headers.get("retry-after", "1")
        return ModelOverloaded(int(retry) if retry.isdigit() else 1)
    status, text = response.status_code, response.text[:200]
    return ModelFailed(f"The model server for {key.repo_id} answered {status}: {text}")


def _cancel_if_abandoned(call: asyncio.Future[Any], futures: list[asyncio.Future[Outcome]]) -> None:
    """Every caller of a batch has gone (a caller that leaves cancels its future): closing the
    request makes Serve cancel it in the replica, which stops the generation."""
    if not call.done() and all(future.cancelled() for future in futures):
        log.info("cancelling a call of %d jobs: their clients went away", len(futures))
        call.cancel()
