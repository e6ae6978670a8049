"""What the Inference API adds to a hub process: its routes (HF's and OpenAI's), the model
workers' executor with its metrics and caches, and the pinned models loaded at start."""

from __future__ import annotations

import asyncio
import os

from hugbox.context import Context
from hugbox.inference import api, openai_api
from hugbox.inference.cache import ResponseCache
from hugbox.inference.executor import ExecutorLimits, ProcessExecutor
from hugbox.inference.metrics import ExecutorEvents, MeteredExecutor, Metrics
from hugbox.inference.pinned import load_pinned
from hugbox.inference.targets import TargetCache
from hugbox.settings import Settings
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    settings = context.settings
    meters = Metrics(wiring.registry)
    executor = MeteredExecutor(_executor(settings, meters), meters)
    response_cache = ResponseCache(settings.inference_cache_bytes)
    meters.watch(executor, response_cache)
    wiring.api += [api.router, openai_api.router]
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


def _executor(settings: Settings, events: ExecutorEvents) -> ProcessExecutor:
    threads = max(1, settings.inference_threads)
    cores = settings.inference_cores or os.cpu_count() or 1
    return ProcessExecutor(
        ExecutorLimits(
            memory_budget=settings.inference_memory_budget,
            threads=threads,
            max_batch=settings.inference_max_batch,
            max_queue=settings.inference_max_queue,
            load_timeout_s=settings.inference_load_timeout,
            deadline_s=settings.inference_deadline,
            compute_slots=max(1, cores // threads),
        ),
        events=events,
    )
