"""The model worker: a separate process that loads one pipeline and answers batches of calls.

A slow or crashing model never stalls the hub, and evicting a model frees its memory for real
(the process ends). Requests that arrive while a batch runs are merged into the next batch.
"""

from __future__ import annotations

import dataclasses
import logging
import resource
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from hugbox.inference import generation
from hugbox.inference.generation import Chunk

log = logging.getLogger(__name__)

# Errors a pipeline raises for inputs it cannot take; HF answers these with 400, others with 500.
_BAD_INPUT = (ValueError, TypeError, AssertionError, KeyError, IndexError)


@dataclass(frozen=True)
class WorkerSpec:
    model_dir: Path
    task: str
    threads: int
    max_batch: int
    max_wait_s: float


@dataclass(frozen=True)
class Job:
    id: int
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    pooling: bool
    normalize: bool
    batchable: bool
    seed: int | None
    generate: bool = False  # chat/completion: args[0] is a prompt or a list of messages
    stream: bool = False


@dataclass(frozen=True)
class Outcome:
    id: int
    ok: bool
    value: Any  # the raw pipeline output, or the error message
    bad_input: bool = False


def main(conn: Connection, spec: WorkerSpec) -> None:
    """Process entry point: load, report, then serve jobs until told to stop (None)."""
    try:
        model = _load(spec)
    except Exception as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", _rss_bytes()))
    stop = False
    while not stop:
        jobs, stop = _next_batch(conn, spec)
        for job in [j for j in jobs if j.generate]:
            conn.send(_generate(model, job, conn))
        for outcome in _run(model, [j for j in jobs if not j.generate]):
            conn.send(outcome)


def _generate(model: _Model, job: Job, conn: Connection) -> Outcome:
    def emit(text: str) -> None:
        conn.send(Chunk(job.id, text))

    try:
        if job.seed is not None:
            import torch

            torch.manual_seed(job.seed)
        done = generation.generate(
            model.pipe, job.args[0], job.kwargs, emit if job.stream else None
        )
    except _BAD_INPUT as exc:
        return Outcome(job.id, False, str(exc), bad_input=True)
    except Exception as exc:
        log.error("generation failed: %s", traceback.format_exc())
        return Outcome(job.id, False, f"{type(exc).__name__}: {exc}")
    return Outcome(job.id, True, done)


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class _Model:
    pipe: Any
    tokenizer: Any
    encoder: Any


def _load(spec: WorkerSpec) -> _Model:
    import torch
    import transformers

    torch.set_num_threads(spec.threads)
    # `pipeline` is overloaded on literal task names; ours is a runtime string.
    factory: Any = transformers.pipeline
    pipe = factory(spec.task, model=str(spec.model_dir), device="cpu")
    return _Model(pipe=pipe, tokenizer=getattr(pipe, "tokenizer", None), encoder=pipe.model)


def _next_batch(conn: Connection, spec: WorkerSpec) -> tuple[list[Job], bool]:
    """The next jobs to run together, and whether the stop signal (None) came after them."""
    first = conn.recv()
    if first is None:
        return [], True
    jobs: list[Job] = [first]
    deadline = time.monotonic() + spec.max_wait_s
    while len(jobs) < spec.max_batch and first.batchable:
        # Jobs already queued always join, even past the deadline (poll(0) only looks).
        if not conn.poll(max(0.0, deadline - time.monotonic())):
            break
        job = conn.recv()
        if job is None:
            return jobs, True
        jobs.append(job)
    return jobs, False


def _run(model: _Model, jobs: list[Job]) -> list[Outcome]:
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        key = repr((job.pooling, job.normalize, sorted(job.kwargs.items())))
        groups.setdefault(key if job.batchable else f"single-{job.id}", []).append(job)
    outcomes = []
    for group in groups.values():
        outcomes += _run_group(model, group)
    return outcomes


def _run_group(model: _Model, group: list[Job]) -> list[Outcome]:
    try:
        raws = _call(model, group)
    except _BAD_INPUT as exc:
        if len(group) > 1:  # one bad input must not fail its neighbours: retry one by one
            return [outcome for job in group for outcome in _run_group(model, [job])]
        return [Outcome(group[0].id, False, str(exc), bad_input=True)]
    except Exception as exc:
        log.error("inference failed: %s", traceback.format_exc())
        return [Outcome(job.id, False, f"{type(exc).__name__}: {exc}") for job in group]
    return [Outcome(job.id, True, raw) for job, raw in zip(group, raws, strict=True)]


def _inputs(value: Any) -> Any:
    """Raw image bytes become a PIL image: transformers would read a string as a URL or path."""
    if isinstance(value, bytes):
        import io

        from PIL import Image

        return Image.open(io.BytesIO(value)).convert("RGB")
    return value


def _call(model: _Model, group: list[Job]) -> list[Any]:
    group = [
        dataclasses.replace(j, args=tuple(_inputs(a) for a in j.args))
        for j in group
    ]  # fmt: skip
    first = group[0]
    if first.pooling:
        return _pooled(model, group)
    if len(group) == 1:
        if first.seed is not None:
            import torch

            torch.manual_seed(first.seed)
        return [model.pipe(*first.args, **first.kwargs)]
    inputs = [job.args[0] for job in group]
    results = model.pipe(inputs, batch_size=len(inputs), **first.kwargs)
    return list(results)


def _pooled(model: _Model, group: list[Job]) -> list[Any]:
    """Sentence embeddings: one padded forward pass for every text of the batch, mean-pooled."""
    import torch

    texts: list[str] = []
    spans: list[tuple[int, int, bool]] = []
    for job in group:
        value = job.args[0]
        items = [value] if isinstance(value, str) else list(value)
        spans.append((len(texts), len(texts) + len(items), isinstance(value, str)))
        texts += items
    encoded = model.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model.encoder(**encoded).last_hidden_state
    mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    results = []
    for job, (start, end, single) in zip(group, spans, strict=True):
        vectors = pooled[start:end]
        if job.normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        rows = vectors.tolist()
        results.append(rows[0] if single else rows)
    return results
