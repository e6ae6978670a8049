"""Prometheus metrics of the Inference API, named after TGI's with a `hugbox_` prefix (spec §3.1,
§6.8), in the hub's registry, which `GET /metrics` exposes (hugbox.observability).

Three sources feed them: `MetricsMiddleware` (every inference request: count and duration by
model, route and status), `MeteredExecutor` (time in the executor, in-flight requests, tokens)
and the executor's own events (loads, load failures, evictions, waiting for a model).

Every server process keeps its own numbers: with `hugbox serve --workers N`, a scrape reaches one
process (the deployment guide says how to scrape each).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hugbox.inference.cache import ResponseCache
from hugbox.inference.worker.generation import Generated
from hugbox.inference.worker.process import Job, Outcome

if TYPE_CHECKING:
    from hugbox.inference.executor import Executor, ModelKey

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
BATCH = (1, 2, 4, 8, 16, 32, 64, 128)
TOKENS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
INFERENCE_TAG = "inference"  # routes with this tag are counted by MetricsMiddleware


class ExecutorEvents(Protocol):
    """What an executor reports about its models; `Metrics` turns the reports into metrics."""

    def loaded(self, key: ModelKey, seconds: float) -> None: ...
    def load_failed(self, key: ModelKey) -> None: ...
    def evicted(self, key: ModelKey, reason: str) -> None: ...
    def batch_started(self, key: ModelKey, jobs: list[Job]) -> None: ...


class NoEvents:
    def loaded(self, key: ModelKey, seconds: float) -> None:
        pass

    def load_failed(self, key: ModelKey) -> None:
        pass

    def evicted(self, key: ModelKey, reason: str) -> None:
        pass

    def batch_started(self, key: ModelKey, jobs: list[Job]) -> None:
        pass


class Metrics:
    """The inference metrics of one server process, in the hub's `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        r = self.registry
        self.requests = Counter("hugbox_request_count", "Inference requests answered",
                                ["model", "route", "status"], registry=r)  # fmt: skip
        self.request_duration = Histogram(
            "hugbox_request_duration", "Seconds from request to the end of the answer",
            ["model", "route", "status"], buckets=SECONDS, registry=r,
        )  # fmt: skip
        self.queue_duration = Histogram(
            "hugbox_request_queue_duration",
            "Seconds from entering the executor (loading the model included) to running",
            ["model"], buckets=SECONDS, registry=r,
        )  # fmt: skip
        self.inference_duration = Histogram(
            "hugbox_request_inference_duration", "Seconds from running to the answer",
            ["model", "task"], buckets=SECONDS, registry=r,
        )  # fmt: skip
        self.batch_size = Histogram("hugbox_batch_size", "Requests per batch a worker ran",
                                    ["model"], buckets=BATCH, registry=r)  # fmt: skip
        self.in_flight = Gauge("hugbox_queue_size", "Requests in the executor now, per model",
                               ["model"], registry=r)  # fmt: skip
        self.input_length = Histogram("hugbox_request_input_length", "Prompt tokens of generations",
                                      ["model"], buckets=TOKENS, registry=r)  # fmt: skip
        self.generated_tokens = Histogram(
            "hugbox_request_generated_tokens", "Tokens generated per request",
            ["model"], buckets=TOKENS, registry=r,
        )  # fmt: skip
        self.loads = Counter("hugbox_model_load_count", "Model loads, by result",
                             ["model", "task", "result"], registry=r)  # fmt: skip
        self.load_duration = Histogram("hugbox_model_load_duration", "Seconds to load a model",
                                       ["model", "task"], buckets=SECONDS, registry=r)  # fmt: skip
        self.evictions = Counter("hugbox_model_eviction_count", "Models unloaded, by reason",
                                 ["model", "reason"], registry=r)  # fmt: skip
        self._entered: dict[int, float] = {}  # job id -> when it entered the executor
        self._running: dict[int, float] = {}  # job id -> when its batch started

    def watch(self, executor: Executor, cache: ResponseCache) -> None:
        """Read the loaded models and the cache's counters at each scrape."""
        self.registry.register(_StateCollector(executor, cache))

    # ExecutorEvents
    def loaded(self, key: ModelKey, seconds: float) -> None:
        self.loads.labels(key.repo_id, key.task, "ok").inc()
        self.load_duration.labels(key.repo_id, key.task).observe(seconds)

    def load_failed(self, key: ModelKey) -> None:
        self.loads.labels(key.repo_id, key.task, "failed").inc()

    def evicted(self, key: ModelKey, reason: str) -> None:
        self.evictions.labels(key.repo_id, reason.replace(" ", "_")).inc()

    def batch_started(self, key: ModelKey, jobs: list[Job]) -> None:
        now = time.perf_counter()
        self.batch_size.labels(key.repo_id).observe(len(jobs))
        for job in jobs:
            self._running[job.id] = now
            self.queue_duration.labels(key.repo_id).observe(now - self._entered.get(job.id, now))

    # MeteredExecutor
    def entered(self, job: Job) -> None:
        self._entered[job.id] = time.perf_counter()

    def left(self, key: ModelKey, job: Job, outcome: Outcome | None) -> None:
        """`job` is done with (`outcome` None: it failed or its caller went away)."""
        entered = self._entered.pop(job.id, None)
        running = self._running.pop(job.id, entered)
        if outcome is None or running is None:
            return
        self.inference_duration.labels(key.repo_id, key.task).observe(time.perf_counter() - running)
        if not (job.generate and outcome.ok and isinstance(outcome.value, list)):
            return  # an embedding's list holds hundreds of floats: not worth a look each
        for done in outcome.value:
            if isinstance(done, Generated):
                self.input_length.labels(key.repo_id).observe(done.prompt_tokens)
                self.generated_tokens.labels(key.repo_id).observe(done.completion_tokens)


class _StateCollector:
    def __init__(self, executor: Executor, cache: ResponseCache):
        self.executor = executor
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("hugbox_loaded_models", "Models loaded in workers",
                                value=len(self.executor.loaded()))  # fmt: skip
        yield CounterMetricFamily("hugbox_cache_hit", "Answers served from the response cache",
                                  value=self.cache.hits)  # fmt: skip
        yield CounterMetricFamily("hugbox_cache_miss", "Cacheable calls the cache did not hold",
                                  value=self.cache.misses)  # fmt: skip
        yield GaugeMetricFamily("hugbox_cache_bytes", "JSON bytes held by the response cache",
                                value=self.cache.size)  # fmt: skip


class MeteredExecutor:
    """An Executor that measures the calls it passes on to `inner`."""

    def __init__(self, inner: Executor, metrics: Metrics):
        self.inner = inner
        self.metrics = metrics

    def next_job_id(self) -> int:
        return self.inner.next_job_id()

    def loaded(self) -> list[ModelKey]:
        return self.inner.loaded()

    async def close(self) -> None:
        await self.inner.close()

    async def preload(self, key: ModelKey) -> None:
        await self.inner.preload(key)

    async def run(self, key: ModelKey, job: Job, *, wait_for_model: bool | None) -> Outcome:
        outcome = None
        self.metrics.entered(job)
        try:
            with self.metrics.in_flight.labels(key.repo_id).track_inprogress():
                outcome = await self.inner.run(key, job, wait_for_model=wait_for_model)
            return outcome
        finally:
            self.metrics.left(key, job, outcome)

    async def stream(
        self, key: ModelKey, job: Job, *, wait_for_model: bool | None
    ) -> AsyncGenerator[str | Outcome, None]:
        outcome = None
        self.metrics.entered(job)
        inner = self.inner.stream(key, job, wait_for_model=wait_for_model)
        try:
            with self.metrics.in_flight.labels(key.repo_id).track_inprogress():
                # aclosing: a client that went away stops the generation now, not at GC time.
                async with aclosing(inner) as items:
                    async for item in items:
                        outcome = item if not isinstance(item, str) else outcome
                        yield item
        finally:
            self.metrics.left(key, job, outcome)


class MetricsMiddleware:
    """Counts and times the requests of routes tagged `inference`, by the model they ran (set
    by the routes in `request.state.inference_model`), their route and their status."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route: Any = scope.get("route")
        if route is None or INFERENCE_TAG not in (getattr(route, "tags", None) or ()):
            return
        state = scope.get("state") or {}
        labels = (str(state.get("inference_model", "")), route.path, str(status))
        self.metrics.requests.labels(*labels).inc()
        self.metrics.request_duration.labels(*labels).observe(seconds)
