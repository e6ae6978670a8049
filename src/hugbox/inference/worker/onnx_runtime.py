"""Encoder models on ONNX Runtime, chosen per model when it is exact.

A worker serving an encoder task starts on transformers; a background thread then exports the
model once per commit (cached beside the snapshot folder, `<commit>.onnx/`), runs a probe batch
through both, and swaps ONNX Runtime in only if it agrees with transformers (cosine >= 0.99999).
Otherwise the worker stays on transformers and logs why. int8 (dynamic, per-channel) is opt-in,
per repo (README `inference: {quantization: int8}`) or for every model (HUGBOX_INFERENCE_INT8):
it is prepared before the worker reports ready, and refused below the configured agreement.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

ONNX_TASKS = frozenset(
    {"feature-extraction", "sentence-similarity", "text-classification", "token-classification",
     "fill-mask"}
)  # fmt: skip
EXACT_COSINE = 0.99999  # fp32 ONNX is served only this close to transformers
_EXPORT_TIMEOUT_S = 1800.0
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EXCEPTION = re.compile(r"^(<class '[\w.]+'>: |[\w.]*(Error|Exception): )")
# Texts of very different lengths, so that the probe batch is mostly padding for some rows.
PROBE_TEXTS = [
    "Hi.",
    "The knight rode to the castle at dawn.",
    "A much longer sentence, with punctuation, numbers like 42 and 1999, and several clauses "
    "that make the batch padded for every other row of the probe.",
    "Short one here",
]


class OnnxUnavailable(Exception):
    """The model cannot run on ONNX Runtime, or not exactly enough: the message says why."""


@dataclass(frozen=True)
class OnnxOptions:
    int8: bool = False
    int8_min_cosine: float = 0.97
    threads: int = 1


@dataclass(frozen=True)
class Agreement:
    """How ONNX Runtime's outputs on the probe batch compare to transformers' (real tokens only)."""

    precision: str
    cosine: float  # the lowest per-text cosine similarity
    max_abs_diff: float
    required_cosine: float

    @property
    def ok(self) -> bool:
        return self.cosine >= self.required_cosine


class Served(Protocol):
    """The worker's loaded model: its pipeline, and the encoder the pooling path calls."""

    pipe: Any
    tokenizer: Any
    encoder: Any


class OrtModel:
    """ONNX Runtime sessions called like the transformers model they replace: torch tensors in,
    the same ModelOutput type out; anything else (config, forward's signature) is the model's.

    With more than one thread, a batch of several rows runs as that many single-threaded passes
    over slices of its rows at once, on a second session: 1.14-1.37x the throughput of one pass
    on as many intra-op threads (all-MiniLM-L6-v2, 2 threads, batches of 8-32, fp32 and int8),
    whose threads wait on each other at every op. A lone row keeps the intra-op threads (one
    single-threaded pass was 1.27x slower). The second session holds its own copy of the
    weights: encoders are small."""

    def __init__(self, model: Any, path: Path, threads: int, output_type: type, key: str):
        self._model = model
        self._wide = session(path, threads)
        self._narrow = session(path, 1) if threads > 1 else self._wide
        self._pool = ThreadPoolExecutor(threads - 1, "onnx-pass") if threads > 1 else None
        self._threads = threads
        self._inputs = {item.name for item in self._wide.get_inputs()}
        self._output_type = output_type
        self._output_key = key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def __call__(self, **inputs: Any) -> Any:
        import numpy as np
        import torch

        feeds = {
            name: np.ascontiguousarray(value.numpy(), dtype=np.int64)
            for name, value in inputs.items()
            if name in self._inputs
        }
        return self._output_type(**{self._output_key: torch.from_numpy(self._run(feeds))})

    def _run(self, feeds: dict[str, Any]) -> Any:
        import numpy as np

        rows = len(next(iter(feeds.values())))
        parts = min(self._threads, rows)
        if parts == 1 or self._pool is None:
            return self._wide.run(None, feeds)[0]
        bounds = np.linspace(0, rows, parts + 1).astype(int)
        slices = [{name: value[a:b] for name, value in feeds.items()}
                  for a, b in itertools.pairwise(bounds)]  # fmt: skip
        # ONNX Runtime lets go of the GIL while it runs: the passes share no Python time.
        others = [self._pool.submit(self._narrow.run, None, part) for part in slices[1:]]
        first = self._narrow.run(None, slices[0])[0]
        return np.concatenate([first, *(other.result()[0] for other in others)])


def start(served: Served, model_dir: Path, task: str, options: OnnxOptions) -> None:
    """Move `served` onto ONNX Runtime when it pays: int8 now (it was asked for; a refusal fails
    the load), fp32 in the background (the first request is answered by transformers)."""
    if task not in ONNX_TASKS:
        return
    if options.int8 or wants_int8(model_dir):
        options = OnnxOptions(True, options.int8_min_cosine, options.threads)
        _switch(served, prepare(model_dir, served.encoder, served.tokenizer, options))
        return
    args = (served, model_dir, options)
    threading.Thread(target=_in_background, args=args, name="onnx", daemon=True).start()


def wants_int8(model_dir: Path) -> bool:
    """Whether the repo's README asks for int8: `inference: {quantization: int8}`."""
    from hugbox.repos.cards import CardError, parse_front_matter

    try:
        card = parse_front_matter((model_dir / "README.md").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, CardError):
        return False
    settings = (card or {}).get("inference")
    return isinstance(settings, dict) and settings.get("quantization") == "int8"


def _in_background(served: Served, model_dir: Path, options: OnnxOptions) -> None:
    try:
        model = prepare(model_dir, served.encoder, served.tokenizer, options)
    except Exception as exc:  # whatever went wrong, transformers keeps serving
        reason = str(exc) if isinstance(exc, OnnxUnavailable) else f"{type(exc).__name__}: {exc}"
        log.warning("onnx: %s stays on transformers: %s", model_dir.name, reason)
        return
    _switch(served, model)


def _switch(served: Served, model: OrtModel) -> None:
    # Two attribute writes between batches' forward passes: a pass in flight keeps the model it
    # started with, the next one gets ONNX Runtime.
    served.pipe.model = model
    served.encoder = model


def prepare(model_dir: Path, model: Any, tokenizer: Any, options: OnnxOptions) -> OrtModel:
    """`model` on ONNX Runtime, verified on the probe batch; OnnxUnavailable says why not."""
    try:
        import onnxruntime  # noqa: F401  (the optional `onnx` extra)
    except ImportError as exc:
        raise OnnxUnavailable("onnxruntime is not installed (pip install 'hugbox[onnx]')") from exc
    path = exported(model_dir, type(model).__name__)
    precision = "int8" if options.int8 else "fp32"
    if options.int8:
        path = quantized(path)
    candidate, agreement = _verified(model, tokenizer, path, precision, options)
    _record(path, agreement)
    verdict = (
        f"{precision} ONNX agrees with transformers at cosine {agreement.cosine:.7f} "
        f"(max abs diff {agreement.max_abs_diff:.2e}; required {agreement.required_cosine})"
    )
    if not agreement.ok:
        raise OnnxUnavailable(f"refused: {verdict}")
    log.info("onnx: %s now runs on ONNX Runtime: %s", model_dir.name, verdict)
    return candidate


def _verified(
    model: Any, tokenizer: Any, path: Path, precision: str, options: OnnxOptions
) -> tuple[OrtModel, Agreement]:
    import torch

    encoded = tokenizer(
        PROBE_TEXTS, padding=True, truncation=True, max_length=_probe_length(model),
        return_tensors="pt",
    )  # fmt: skip
    with torch.inference_mode():
        expected = model(**encoded)
    key = next(iter(expected.keys()))
    candidate = OrtModel(model, path, options.threads, type(expected), key)
    with torch.inference_mode():
        got = candidate(**encoded)[key]
    required = options.int8_min_cosine if options.int8 else EXACT_COSINE
    cosine, diff = _compare(expected[key], got, encoded["attention_mask"].bool())
    return candidate, Agreement(precision, cosine, diff, required)


def _probe_length(model: Any) -> int:
    """Tokens the probe may use: the model's positions (RoBERTa's first two are reserved)."""
    positions = getattr(model.config, "max_position_embeddings", None)
    return min(128, positions - 2) if isinstance(positions, int) and positions > 2 else 128


def _compare(expected: Any, got: Any, mask: Any) -> tuple[float, float]:
    """The lowest per-text cosine and the largest absolute difference, over real tokens."""
    import torch

    cosines, diffs = [], []
    for row in range(expected.shape[0]):
        a, b = expected[row], got[row]
        if expected.dim() == 3:  # per token: padding positions are not compared
            a, b = a[mask[row]], b[mask[row]]
        a, b = a.flatten().double(), b.flatten().double()
        cosines.append(float(torch.nn.functional.cosine_similarity(a, b, dim=0)))
        diffs.append(float((a - b).abs().max()))
    return min(cosines), max(diffs)


def session(path: Path, threads: int) -> Any:
    """An ONNX Runtime session on the worker's cores: intra-op threads = the worker's threads,
    one inter-op thread (a batch is one graph run), every graph optimisation. Its pool threads
    sleep between ops rather than spin: spinning took a third of the CPU of 2 threads on 2
    cores shared with the hub (6.0 against 8.5 ms per sentence)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT's own exception types: an op it cannot run, a broken file
        raise OnnxUnavailable(f"ONNX Runtime cannot run the export: {exc}") from exc


def cache_dir(model_dir: Path) -> Path:
    """Exports of a snapshot folder's commit live beside it, keyed by the commit like it."""
    return model_dir.parent / f"{model_dir.name}.onnx"


def exported(model_dir: Path, class_name: str) -> Path:
    """The fp32 ONNX file of `class_name` at this commit: exported once, then reused (across
    restarts too). A failed export is remembered as well, with its reason."""
    target = cache_dir(model_dir) / f"{class_name}.onnx"
    failed = target.with_suffix(".failed")
    if target.is_file():
        log.info("onnx: %s reuses its export %s", model_dir.name, target)
        return target
    if failed.is_file():
        raise OnnxUnavailable(f"export failed earlier: {failed.read_text(encoding='utf-8')}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    started = time.perf_counter()
    command = [sys.executable, "-m", "hugbox.inference.worker.onnx_export", str(model_dir),
               class_name, str(partial)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=_EXPORT_TIMEOUT_S)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        reason = _error_line(done.stderr) or f"exit status {done.returncode}"
        failed.write_text(reason, encoding="utf-8")
        raise OnnxUnavailable(f"export failed: {reason}")
    partial.replace(target)  # whole or absent: a crash mid-export leaves no half file
    seconds = time.perf_counter() - started
    log.info("onnx: %s exported %s in %.1f s", model_dir.name, target.name, seconds)
    return target


def _error_line(stderr: str) -> str:
    """The exception a failed export ended with (the exporter adds pages of advice after it)."""
    lines = [_ANSI.sub("", line).strip() for line in stderr.splitlines()]
    errors = [line for line in lines if _EXCEPTION.match(line)]
    return (errors or [line for line in lines if line] or [""])[-1][:500]


def quantized(source: Path) -> Path:
    """`source` with its weights quantised to int8 (dynamic, per output channel), made once."""
    target = source.with_suffix(".int8.onnx")
    if target.is_file():
        return target
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = target.with_name(f".{target.name}.{os.getpid()}")
    quantize_dynamic(source, partial, per_channel=True, weight_type=QuantType.QInt8)
    partial.replace(target)
    return target


def _record(path: Path, agreement: Agreement) -> None:
    """The measured agreement beside the file it measured: what operators and the docs quote."""
    record = {**asdict(agreement), "ok": agreement.ok}
    path.with_suffix(".agreement.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
