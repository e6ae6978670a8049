"""The hugbox application on Ray Serve: replicas that load models by repo id and commit
(`serve.multiplexed`), batch the calls of many hub processes (`serve.batch`), stream generated
text as server-sent events and stop generating when the hub hangs up. `RayServeExecutor` is
its client; `fleet` is what they say to each other.

A replica downloads a snapshot from the hub as a Hugging Face client, with the read-only
service token that came with the call (`auth.grants`): Ray nodes need no access to the hub's
disks or object store. It runs the same code as a model worker process (`process.answer`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ray import serve
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from hugbox.inference import fleet
from hugbox.inference.fleet import FleetCall, LoadFailed, Loading, Reply
from hugbox.inference.worker import process
from hugbox.inference.worker.process import Job, Outcome, WorkerSpec
from hugbox.settings import InferenceDtype, Settings

# Serve writes this logger to each replica's log file (`logs/serve/replica_*.log`).
log = logging.getLogger("ray.serve")


_MAX_GATHER_S = 0.05  # the longest a call waits for others to join its batch


@dataclasses.dataclass(frozen=True)
class FleetOptions:
    """How the hugbox deployment runs; `deploy` builds it from the hub's settings."""

    key: bytes  # fleet.fleet_key(secret)
    threads: int = 1
    dtype: InferenceDtype = InferenceDtype.AUTO  # decided on each replica's own CPU
    max_batch: int = 32
    models_per_replica: int = 4
    cache_dir: str | None = None  # where replicas keep snapshots (the HF cache by default)


class _Loaded:
    """A loaded model; the multiplexer calls `__del__` when it evicts it."""

    def __init__(self, model: Any, on_evict: Callable[[], None]):
        self.model, self._on_evict = model, on_evict

    def __del__(self) -> None:
        self._on_evict()


class _Inbox:
    """`process.Inbox` for a replica: streamed text goes to the event loop's queue of its job,
    and cancelled jobs are those whose hub connection closed."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.cancelled: set[int] = set()
        self.streams: dict[int, asyncio.Queue[str]] = {}

    def poll_cancelled(self) -> set[int]:
        return self.cancelled

    def emitter(self, job: Job) -> Callable[[str], None] | None:
        queue = self.streams.get(job.id)
        if queue is None:
            return None

        def emit(text: str) -> None:
            self.loop.call_soon_threadsafe(queue.put_nowait, text)

        return emit


class ModelServer:
    """The replica: a few models loaded at once (least recently used evicted), one batch
    computing at a time."""

    def __init__(self, options: FleetOptions):
        self.options = options
        self.ids = itertools.count(1)  # jobs of many hub processes: their ids may collide
        self.sources: dict[str, tuple[str, str]] = {}  # model id -> (hub url, grant)
        self.ready: set[str] = set()
        self.loading: dict[str, float] = {}  # model id -> when its load began
        self.load_seconds: dict[str, float] = {}  # reported once, to the call that waited
        self.background: set[asyncio.Task[Any]] = set()
        self.compute = asyncio.Semaphore(1)
        self.busy, self.last_batch_s = False, 0.0
        self.inbox: _Inbox | None = None
        self.run_batch.set_max_batch_size(options.max_batch)  # type: ignore[attr-defined]
        # Wrapped here, not on the class: the number of models comes from the options. A plain
        # function, as the multiplexer keeps its state on the object it wraps.
        multiplexed = serve.multiplexed(max_num_models_per_replica=options.models_per_replica)

        async def get_model(model_id: str) -> _Loaded:
            return await self._load_model(model_id)

        self.get_model = multiplexed(get_model)

    async def __call__(self, request: Request) -> Response:
        call: FleetCall = fleet.unpack(self.options.key, await request.body())
        model_id = call.model_id
        self.sources[model_id] = (call.hub_url, call.grant)
        if not call.wait and model_id not in self.ready:
            return self._reply(Reply(self._start_loading(call)))
        try:
            loaded = await self.get_model(model_id)
        except Exception as exc:  # the repo's content does not load (the hub answers 400)
            return self._reply(Reply(LoadFailed(f"{type(exc).__name__}: {exc}")))
        loaded_s = self.load_seconds.pop(model_id, None)
        if call.job is None:
            return self._reply(Reply(None, loaded_s))
        if isinstance(call.job, list):  # what queued in one hub process: batched with others
            outcomes = await asyncio.gather(*(self._run(loaded.model, job) for job in call.job))
            return self._reply(Reply(list(outcomes), loaded_s))
        job = dataclasses.replace(call.job, id=next(self.ids))
        if job.stream:
            events = self._stream(loaded.model, job, call.job.id, loaded_s)
            return StreamingResponse(events, media_type="text/event-stream")
        outcome = await self.run_batch((loaded.model, job))
        return self._reply(Reply(dataclasses.replace(outcome, id=call.job.id), loaded_s))

    async def _run(self, model: Any, job: Job) -> Outcome:
        """One job of a call; if the hub hangs up meanwhile, Serve cancels this, and the job
        stops at its next token (its batch's other jobs go on)."""
        mine = dataclasses.replace(job, id=next(self.ids))
        try:
            outcome = await self.run_batch((model, mine))
        except asyncio.CancelledError:
            self._inbox().cancelled.add(mine.id)
            raise
        return dataclasses.replace(outcome, id=job.id)

    def _reply(self, reply: Reply) -> Response:
        return Response(fleet.pack(self.options.key, reply), media_type="application/octet-stream")

    def _start_loading(self, call: FleetCall) -> Loading:
        """`wait_for_model: false` on a model this replica lacks: load it in the background."""
        began = self.loading.get(call.model_id)
        if began is None:
            task = asyncio.get_running_loop().create_task(self._load_quietly(call.model_id))
            self.background.add(task)
            task.add_done_callback(self.background.discard)
            began = time.monotonic()
        return Loading(fleet.estimate_load_s(call.weights_bytes, time.monotonic() - began))

    async def _load_quietly(self, model_id: str) -> None:
        try:
            await self.get_model(model_id)
        except Exception:
            log.exception("loading %s failed", model_id)

    async def _load_model(self, model_id: str) -> _Loaded:
        began = self.loading.setdefault(model_id, time.monotonic())
        try:
            model = await asyncio.to_thread(self._load, model_id)
        finally:
            self.loading.pop(model_id, None)
        self.ready.add(model_id)
        self.load_seconds[model_id] = time.monotonic() - began
        log.info("loaded %s in %.1f s", model_id, time.monotonic() - began)
        return _Loaded(model, lambda: self.ready.discard(model_id))

    def _load(self, model_id: str) -> Any:
        repo_id, revision, task = fleet.parse_model_id(model_id)
        hub_url, grant = self.sources[model_id]
        folder = download(hub_url, grant, repo_id, revision, self.options.cache_dir)
        options = self.options
        return process.load(WorkerSpec(folder, task, options.threads, dtype=options.dtype))

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.0)
    async def run_batch(self, calls: list[tuple[Any, Job]]) -> list[Outcome]:
        # Serve splits batches by multiplexed model id: every call here has the same model.
        model, jobs = calls[0][0], [job for _, job in calls]
        if len(jobs) > 1:  # a line per lone call would cost more than the call
            log.info("batch of %d for %s", len(jobs), serve.get_multiplexed_model_id())
        inbox = self._inbox()
        async with self.compute:
            self._gather_while_busy()
            started = time.perf_counter()
            try:
                outcomes = await asyncio.to_thread(_answer, model, jobs, inbox)
            finally:
                self.last_batch_s = time.perf_counter() - started
                self.busy = False
                self.run_batch.set_batch_wait_timeout_s(0.0)  # type: ignore[attr-defined]
        _note_cancelled(outcomes, inbox)
        by_id = {outcome.id: outcome for outcome in outcomes}
        return [by_id[job.id] for job in jobs]

    def _gather_while_busy(self) -> None:
        """Serve forms the next batch as soon as the last one is formed, not once it is
        answered: with no wait, calls arriving while a batch runs would queue as batches of
        one. So while a batch runs, the next one gathers for about as long as the last one
        took (as ProcessExecutor sends what queued meanwhile); an idle replica does not wait."""
        self.busy = True
        wait_s = min(self.last_batch_s, _MAX_GATHER_S)
        self.run_batch.set_batch_wait_timeout_s(wait_s)  # type: ignore[attr-defined]

    def _inbox(self) -> _Inbox:
        if self.inbox is None:
            self.inbox = _Inbox(asyncio.get_running_loop())
        return self.inbox

    async def _stream(
        self, model: Any, job: Job, hub_id: int, loaded_s: float | None
    ) -> AsyncIterator[str]:
        """The generated text as it comes, then the job's outcome. When the hub hangs up, Serve
        cancels this generator: the generation stops at its next token. (Serve's cancellation
        hits every later await too, so nothing is awaited on the way out.)"""
        inbox = self._inbox()
        chunks: asyncio.Queue[str] = asyncio.Queue()
        inbox.streams[job.id] = chunks
        repo_id = serve.get_multiplexed_model_id().partition("@")[0]
        await self.compute.acquire()
        running = asyncio.ensure_future(asyncio.to_thread(_answer, model, [job], inbox))
        running.add_done_callback(lambda _: self.compute.release())  # held until it stops
        try:
            async for text in _drain(chunks, running):
                yield fleet.event(self.options.key, text)
        except BaseException:
            inbox.cancelled.add(job.id)
            running.add_done_callback(lambda done: _note_stopped(repo_id, done))
            raise
        finally:
            inbox.streams.pop(job.id, None)
        [outcome] = running.result()
        yield fleet.event(
            self.options.key, Reply(dataclasses.replace(outcome, id=hub_id), loaded_s)
        )


def _note_stopped(repo_id: str, running: asyncio.Future[list[Outcome]]) -> None:
    if running.cancelled() or running.exception() is not None:
        return
    [outcome] = running.result()
    sequences = outcome.value if outcome.ok and isinstance(outcome.value, list) else []
    tokens = sum(getattr(done, "completion_tokens", 0) for done in sequences)
    log.info("stream of %s stopped after %d generated tokens", repo_id, tokens)


def _note_cancelled(outcomes: list[Outcome], inbox: _Inbox) -> None:
    """Log how far each job whose caller left got (the streamed ones log it themselves)."""
    repo_id = serve.get_multiplexed_model_id().partition("@")[0]
    for outcome in outcomes:
        if outcome.id in inbox.cancelled and outcome.id not in inbox.streams:
            inbox.cancelled.discard(outcome.id)
            sequences = outcome.value if outcome.ok and isinstance(outcome.value, list) else []
            tokens = sum(getattr(done, "completion_tokens", 0) for done in sequences)
            log.info("generation of %s stopped after %d generated tokens", repo_id, tokens)


def _answer(model: Any, jobs: list[Job], inbox: _Inbox) -> list[Outcome]:
    return list(process.answer(model, jobs, inbox))


def download(hub_url: str, grant: str, repo_id: str, revision: str, cache_dir: str | None) -> Path:
    """The snapshot's folder in the replica's Hugging Face cache, filled file by file from
    `model_info` (what a read grant may see: the commit's info and its files, not the tree)."""
    from huggingface_hub import HfApi, hf_hub_download

    info = HfApi(endpoint=hub_url, token=grant).model_info(repo_id, revision=revision)
    path = ""
    for sibling in info.siblings or []:
        path = hf_hub_download(
            repo_id, sibling.rfilename, revision=revision, token=grant, endpoint=hub_url,
            cache_dir=cache_dir,
        )  # fmt: skip
        folder = Path(path).parents[len(Path(sibling.rfilename).parts) - 1]
    if not path:
        raise FileNotFoundError(f"{repo_id} has no files at {revision}")
    return folder


async def _drain(chunks: asyncio.Queue[str], running: asyncio.Future[Any]) -> AsyncIterator[str]:
    """What the computation puts in `chunks`, until it is done and they are all taken."""
    while not (running.done() and chunks.empty()):
        getter = asyncio.ensure_future(chunks.get())
        await asyncio.wait({getter, running}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            yield getter.result()
        else:
            getter.cancel()


def application(
    options: FleetOptions, *, replicas: int, cpus: float, max_queue: int, models: int
) -> Any:
    """The bound Serve application: `models` models per replica, `max_queue` requests waiting
    per replica beyond those running (more are refused: the hub answers 429)."""
    deployment = serve.deployment(
        name="ModelServer",
        num_replicas=replicas,
        max_ongoing_requests=max(2 * options.max_batch, 8),
        max_queued_requests=max_queue,
        logging_config={"enable_access_log": False},  # the hub writes its own access lines
        ray_actor_options={
            "num_cpus": cpus,
            # Xet downloads would ask the hub for a Xet token, which a read grant does not give.
            "runtime_env": {"env_vars": {"HF_HUB_DISABLE_XET": "1", **_passed_env()}},
        },
    )(ModelServer)
    options = dataclasses.replace(options, models_per_replica=models)
    return deployment.bind(options)


def _passed_env() -> dict[str, str]:
    """What the replicas should see of this process's Hugging Face environment."""
    names = ("HF_HOME", "HF_HUB_DISABLE_TELEMETRY", "HF_HUB_DOWNLOAD_TIMEOUT",
             "HF_HUB_ETAG_TIMEOUT")  # fmt: skip
    return {name: os.environ[name] for name in names if name in os.environ}


def deploy(settings: Settings, secret: bytes) -> None:
    """Deploy (or update) the hugbox application, and one application per pinned model, on
    the Ray cluster this process is connected to (`ray.init`); Serve's HTTP proxy listens
    where `HUGBOX_RAY_SERVE_URL` says. Returns once every application is running."""
    url = urlsplit(settings.ray_serve_url)
    serve.start(http_options={"host": url.hostname or "127.0.0.1", "port": url.port or 8000})
    options = FleetOptions(
        key=fleet.fleet_key(secret),
        threads=max(1, settings.inference_threads),
        dtype=settings.inference_dtype,
        max_batch=settings.inference_max_batch,
    )
    cpus, max_queue = settings.ray_replica_cpus, settings.inference_max_queue
    general = application(
        options, replicas=settings.ray_replicas, models=settings.ray_models_per_replica,
        cpus=cpus, max_queue=max_queue,
    )  # fmt: skip
    serve.run(general, name=fleet.APP_NAME, route_prefix=fleet.ROUTE, blocking=False)
    for repo_id in settings.inference_pinned:
        # One replica at least, holding this model only: it is never evicted for another.
        pinned = application(options, replicas=1, models=1, cpus=cpus, max_queue=max_queue)
        name = f"{fleet.APP_NAME}-pinned-{repo_id.replace('/', '--')}"
        serve.run(pinned, name=name, route_prefix=fleet.pinned_route(repo_id), blocking=False)
    _wait_running()


def _wait_running(timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = {name: app.status for name, app in serve.status().applications.items()}
        if states and all(state == "RUNNING" for state in states.values()):
            return
        if any(state in ("DEPLOY_FAILED", "UNHEALTHY") for state in states.values()):
            raise RuntimeError(f"Ray Serve could not deploy hugbox: {states}")
        time.sleep(0.2)
    raise RuntimeError(f"Ray Serve did not start hugbox within {timeout_s:.0f} s")
