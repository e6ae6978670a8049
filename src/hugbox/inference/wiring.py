"""What the Inference API adds to a hub process: its routes (HF's and OpenAI's), the model
workers' executor with its metrics and caches, and the pinned models loaded at start."""

from __future__ import annotations

import asyncio
import os

from hugbox.context import Context
from hugbox.inference import api, openai_api
from hugbox.inference.cache import ResponseCache
from hugbox.inference.executor import Executor, ExecutorLimits, ProcessExecutor
from hugbox.inference.metrics import ExecutorEvents, MeteredExecutor, Metrics
from hugbox.inference.pinned import load_pinned
from hugbox.inference.ray_executor import RayServeExecutor
from hugbox.inference.targets import TargetCache
from hugbox.inference.worker.onnx_runtime import OnnxOptions
from hugbox.settings import InferenceBackend, Settings
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    settings = context.settings
    meters = Metrics(wiring.registry)
    executor = MeteredExecutor(_executor(context, meters), meters)
    response_cache = ResponseCache(settings.inference_cache_bytes)
    meters.watch(executor, response_cache)
    # First of all routes: a router tries its routes in order, and ~140 came before these,
    # a fifth of the hub's CPU per embedding. None of those can claim an inference path: each
    # starts with a reserved namespace (`models`, `pipeline`, `status`, `v1`).
    wiring.api[:0] = [api.router, openai_api.router]
    wiring.state.update(
        executor=executor, metrics=meters, response_cache=response_cache,
        target_cache=TargetCache(settings.inference_access_ttl),
    )  # fmt: skip
    pinning: list[asyncio.Task[None]] = []

    async def load() -> None:
        loading = load_pinned(
            executor, database=context.database, store=context.store, settings=settings
        )
        pinning.append(asyncio.create_task(loading))

    async def close() -> None:
        for task in pinning:
            task.cancel()
        await executor.close()

    wiring.on_start.append(load)
    wiring.on_stop.append(close)


def _executor(context: Context, events: ExecutorEvents) -> Executor:
    settings = context.settings
    if settings.inference_backend is InferenceBackend.RAY:
        return _ray_executor(context, events)
    return ProcessExecutor(_limits(settings), events=events)


def _ray_executor(context: Context, events: ExecutorEvents) -> Executor:
    settings = context.settings
    hub_url = settings.ray_hub_url or settings.public_url
    if not hub_url:
        raise ValueError(
            "HUGBOX_INFERENCE_BACKEND=ray needs HUGBOX_RAY_HUB_URL (or HUGBOX_PUBLIC_URL): "
            "the hub's URL as Ray nodes reach it"
        )
    return RayServeExecutor(
        _limits(settings),
        serve_url=settings.ray_serve_url,
        hub_url=hub_url,
        secret=context.secret,
        pinned=frozenset(settings.inference_pinned),
        events=events,
    )


def _limits(settings: Settings) -> ExecutorLimits:
    threads = max(1, settings.inference_threads)
    cores = settings.inference_cores or os.cpu_count() or 1
    return ExecutorLimits(
        memory_budget=settings.inference_memory_budget,
        threads=threads,
        max_batch=settings.inference_max_batch,
        max_queue=settings.inference_max_queue,
        load_timeout_s=settings.inference_load_timeout,
        deadline_s=settings.inference_deadline,
        compute_slots=max(1, cores // threads),
        onnx=_onnx_options(settings, threads),
        dtype=settings.inference_dtype,
    )


def _onnx_options(settings: Settings, threads: int) -> OnnxOptions | None:
    if not settings.inference_onnx:
        return None
    return OnnxOptions(settings.inference_int8, settings.inference_int8_min_cosine, threads)
