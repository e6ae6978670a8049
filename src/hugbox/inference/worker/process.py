"""The model worker: a separate process that loads one pipeline and answers batches of calls.

A slow or crashing model never stalls the hub, and evicting a model frees its memory for real
(the process ends). The executor decides what runs together and sends it as one `Batch`.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import resource
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from hugbox.inference.worker import generation, onnx_runtime, precision
from hugbox.inference.worker.generation import Chunk, Generated
from hugbox.settings import InferenceDtype

log = logging.getLogger(__name__)

# Errors a pipeline raises for inputs it cannot take; HF answers these with 400, others with 500.
_BAD_INPUT = (ValueError, TypeError, AssertionError, KeyError, IndexError)
# What one more forward pass costs beyond its tokens, in tokens (small matrices run far below
# the GEMM rate): measured on all-MiniLM-L6-v2, 1 thread.
_PASS_COST_TOKENS = 32
# TGI's default when a request names no `max_new_tokens`.
_DEFAULT_NEW_TOKENS = 100


@dataclass(frozen=True)
class WorkerSpec:
    model_dir: Path
    task: str
    threads: int
    # Encoder tasks move to ONNX Runtime when exact (onnx_runtime); None keeps transformers.
    onnx: onnx_runtime.OnnxOptions | None = None
    dtype: InferenceDtype = InferenceDtype.AUTO


@dataclass(frozen=True)
class Job:
    id: int
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    pooling: bool
    normalize: bool
    batchable: bool
    seed: int | None
    # Text generation: args[0] is a prompt or chat messages, kwargs are `generate` arguments,
    # and the outcome is one `Generated` per returned sequence.
    generate: bool = False
    stream: bool = False


@dataclass(frozen=True)
class Outcome:
    id: int
    ok: bool
    value: Any  # the raw pipeline output, or the error message
    bad_input: bool = False
    seconds: float = 0.0  # the worker's time on the batch that ran the job


@dataclass(frozen=True)
class Batch:
    """Jobs to run together: the executor sends the next batch once this one is answered."""

    jobs: list[Job]


@dataclass(frozen=True)
class Cancel:
    """The client of a running job has gone: stop generating for it."""

    id: int


def main(conn: Connection, spec: WorkerSpec) -> None:
    """Process entry point: load, report, then run batches until told to stop (None)."""
    # The worker's own notes (which backend serves the model, and why) reach the server's log.
    logging.basicConfig(format="%(levelname)s:     worker %(process)d %(name)s: %(message)s")
    logging.getLogger("hugbox").setLevel(logging.INFO)
    try:
        model = _load(spec)
    except Exception as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", _rss_bytes()))
    # The ~380,000 objects of torch, transformers and the model live as long as the process:
    # out of the collector's sight, a full collection takes 0.2 ms instead of 197 (measured
    # with all-MiniLM-L6-v2), time a batch in flight would otherwise wait.
    gc.freeze()
    inbox = _Inbox(conn)
    while (jobs := inbox.next_batch()) is not None:
        for outcome in answer(model, jobs, inbox):
            conn.send(outcome)


class Inbox(Protocol):
    """Where a running batch sends streamed text and learns which of its jobs were cancelled:
    this process's pipe, or a Ray replica's queues (`ray_app`)."""

    def poll_cancelled(self) -> set[int]: ...
    def emitter(self, job: Job) -> Callable[[str], None] | None: ...


def load(spec: WorkerSpec) -> _Model:
    """The model `spec` names, loaded in this process."""
    return _load(spec)


def answer(model: _Model, jobs: list[Job], inbox: Inbox) -> Iterator[Outcome]:
    """The outcome of each job of a batch, group by group (jobs that share a forward pass)."""
    for group in _groups(jobs):
        yield from _run_group(model, group, inbox)


class _Inbox:
    """The executor's messages. Cancellations can arrive while a batch runs; generation polls
    for them between tokens."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.cancelled: set[int] = set()
        self.stopping = False

    def next_batch(self) -> list[Job] | None:
        while not self.stopping:
            message = self.conn.recv()
            if isinstance(message, Batch):
                self.cancelled.clear()  # a job's Cancel always comes after its batch
                return message.jobs
            self._note(message)
        return None

    def poll_cancelled(self) -> set[int]:
        while self.conn.poll(0):
            self._note(self.conn.recv())
        return self.cancelled

    def _note(self, message: Cancel | None) -> None:
        if message is None:
            self.stopping = True
        else:
            self.cancelled.add(message.id)

    def emitter(self, job: Job) -> Callable[[str], None] | None:
        if not job.stream:
            return None
        return lambda text: self.conn.send(Chunk(job.id, text))


def _groups(jobs: list[Job]) -> list[list[Job]]:
    """Jobs that can share one forward pass: same kind, same options (a generation's own token
    limit aside), no fixed seed."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        options = {
            k: v for k, v in job.kwargs.items() if not (job.generate and k == "max_new_tokens")
        }
        key = repr((job.generate, job.pooling, job.normalize, sorted(options.items())))
        alone = job.seed is not None or not (job.batchable or job.generate)
        groups.setdefault(f"single-{job.id}" if alone else key, []).append(job)
    return list(groups.values())


def _run_group(model: _Model, group: list[Job], inbox: Inbox) -> list[Outcome]:
    try:
        if group[0].seed is not None:
            import torch

            torch.manual_seed(group[0].seed)
        started = time.perf_counter()
        raws = _generate(model, group, inbox) if group[0].generate else _call(model, group)
        seconds = time.perf_counter() - started
    except _BAD_INPUT as exc:
        if len(group) > 1:  # one bad input must not fail its neighbours: retry one by one
            return [outcome for job in group for outcome in _run_group(model, [job], inbox)]
        return [Outcome(group[0].id, False, str(exc), bad_input=True)]
    except Exception as exc:
        log.error("inference failed: %s", traceback.format_exc())
        return [Outcome(job.id, False, f"{type(exc).__name__}: {exc}") for job in group]
    return [
        Outcome(job.id, True, raw, seconds=seconds) for job, raw in zip(group, raws, strict=True)
    ]


def _generate(model: _Model, group: list[Job], inbox: Inbox) -> list[Any]:
    """One `generate` for the whole group. Each job gets a list of its returned sequences, or
    one such list per prompt when it sent a list of prompts."""
    rows = [row for job in group for row in _rows(model, job, inbox)]
    skip = ("max_new_tokens", "max_length", "num_return_sequences")  # per row, see _rows
    options = {k: v for k, v in group[0].kwargs.items() if k not in skip}
    done = generation.generate(model.pipe, rows, options, inbox.poll_cancelled)
    results: dict[tuple[int, int], list[Generated]] = {}
    for row, generated in zip(rows, done, strict=True):
        results.setdefault((row.job_id, row.prompt_index), []).append(generated)
    return [_per_prompt(job, results) for job in group]


def _prompts(job: Job) -> list[Any]:
    """The job's prompts: a list of strings is several, a list of dicts is one chat."""
    return list(job.args[0]) if _several_prompts(job) else [job.args[0]]


def _several_prompts(job: Job) -> bool:
    value = job.args[0]
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _per_prompt(job: Job, results: dict[tuple[int, int], list[Generated]]) -> Any:
    lists = [results[(job.id, i)] for i in range(len(_prompts(job)))]
    return lists if _several_prompts(job) else lists[0]


def _rows(model: _Model, job: Job, inbox: Inbox) -> list[generation.Row]:
    emit = inbox.emitter(job)
    copies = job.kwargs.get("num_return_sequences", 1)
    rows = []
    for index, prompt in enumerate(_prompts(job)):
        prompt_ids = generation.encode(model.tokenizer, prompt)
        limit = _token_limit(model, len(prompt_ids), _new_tokens(job, len(prompt_ids)))
        rows += [
            generation.Row(job.id, prompt_ids, limit, emit if index == copy == 0 else None, index)
            for copy in range(copies)
        ]
    return rows


def _new_tokens(job: Job, prompt_tokens: int) -> int | None:
    """The new tokens asked for one prompt: `max_new_tokens`, or what a model's preset
    `max_length` (prompt included) leaves after this prompt, at least one, as `generate` does."""
    asked = job.kwargs.get("max_new_tokens")
    total = job.kwargs.get("max_length")
    if asked is None and isinstance(total, int):
        return max(total - prompt_tokens, 1)
    return asked if isinstance(asked, int) else None


def _token_limit(model: _Model, prompt_tokens: int, asked: int | None) -> int:
    """The row's `max_new_tokens`: what was asked if the context has room, else a 400."""
    context = _context_size(model)
    room = context - prompt_tokens
    if room < 1 or (asked is not None and asked > room):
        raise ValueError(
            f"`inputs` tokens + `max_new_tokens` must be <= {context}. Given: {prompt_tokens} "
            f"`inputs` tokens and {asked or 1} `max_new_tokens`"
        )
    return asked or min(room, _DEFAULT_NEW_TOKENS)


def _context_size(model: _Model) -> int:
    config = model.encoder.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return 1 << 20


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

    from hugbox.inference.worker import runners

    torch.set_num_threads(spec.threads)
    dtype = precision.load_dtype(spec.model_dir, spec.dtype)
    # transformers 5 has no pipeline for some tasks: our runners stand in for those.
    pipe: Any = runners.load(spec.task, spec.model_dir, dtype)
    if pipe is None:
        # `pipeline` is overloaded on literal task names; ours is a runtime string.
        factory: Any = transformers.pipeline
        pipe = factory(spec.task, model=str(spec.model_dir), device="cpu", dtype=dtype)
    model = _Model(pipe=pipe, tokenizer=getattr(pipe, "tokenizer", None), encoder=pipe.model)
    if spec.onnx is not None:
        onnx_runtime.start(model, spec.model_dir, spec.task, spec.onnx)
    return model


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
    """Sentence embeddings of every text of the batch, mean-pooled; each job gets its own."""
    import torch

    texts: list[str] = []
    spans: list[tuple[int, int, bool]] = []
    for job in group:
        value = job.args[0]
        items = [value] if isinstance(value, str) else list(value)
        spans.append((len(texts), len(texts) + len(items), isinstance(value, str)))
        texts += items
    pooled = _embed(model, texts)
    results = []
    for job, (start, end, single) in zip(group, spans, strict=True):
        vectors = pooled[start:end]
        if job.normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        rows = vectors.tolist()
        results.append(rows[0] if single else rows)
    return results


def _embed(model: _Model, texts: list[str]) -> Any:
    """Mean-pooled embeddings in the order of `texts`. Texts run sorted by length, in as many
    padded forward passes as pay off: padding is work thrown away."""
    import torch

    encoded = model.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    lengths = encoded["attention_mask"].sum(1).tolist()
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    pooled: Any = None
    for start, end in _length_buckets([lengths[i] for i in order]):
        rows = torch.tensor(order[start:end])
        width = lengths[order[end - 1]]  # the columns past it are padding for every row
        columns = (
            slice(None, width) if model.tokenizer.padding_side == "right" else slice(-width, None)
        )
        batch = {name: tensor[rows, columns] for name, tensor in encoded.items()}
        with torch.inference_mode():
            hidden = model.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        if pooled is None:
            pooled = hidden.new_empty(len(texts), hidden.shape[-1])
        pooled[rows] = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return pooled


def _length_buckets(lengths: list[int]) -> list[tuple[int, int]]:
    """Split ascending `lengths` into runs minimising padded tokens plus a fixed cost per forward
    pass (in tokens), by dynamic programming over the split points."""
    count = len(lengths)
    if count > 256:  # big lists: fixed runs, the DP would cost more than it saves
        return [(i, min(i + 64, count)) for i in range(0, count, 64)]
    best = [0.0] + [float("inf")] * count
    split = [0] * (count + 1)
    for end in range(1, count + 1):
        for start in range(end):
            cost = best[start] + (end - start) * lengths[end - 1] + _PASS_COST_TOKENS
            if cost < best[end]:
                best[end], split[end] = cost, start
    runs, end = [], count
    while end > 0:
        runs.append((split[end], end))
        end = split[end]
    return runs[::-1]
