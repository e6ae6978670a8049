"""Pipeline outputs to the exact JSON shapes huggingface_hub's InferenceClient parses (spec §2.5).

`raw` is what `pipe(*call.args, **call.kwargs)` returned for this one call (for a batched run,
this call's element of the result). Pooled calls get the worker's pooled vectors instead: one
vector for a string input, one per text for a list.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hugbox.inference.calls import PipelineCall
    from hugbox.inference.worker.generation import Generated

_SCALARS = (str, int, float, bool)


def shape_output(call: PipelineCall, raw: object) -> object:
    """The JSON-serialisable answer for `call` (plain Python: numpy values become floats, lists)."""
    shape = _SHAPES.get(call.postprocess)
    if shape is None:
        raise ValueError(f"no output shape named {call.postprocess!r}")
    return shape(call, to_plain(raw))


def to_plain(value: object) -> Any:
    """`value` with numpy scalars and arrays (anything with `.tolist()`) made plain Python."""
    if value is None or type(value) in _SCALARS:
        return value
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        if _all_floats(value):  # a vector: checked in C, not float by float in Python
            return list(value)
        return [to_plain(item) for item in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return to_plain(tolist())
    return value


def _all_floats(values: list[Any] | tuple[Any, ...]) -> bool:
    return bool(values) and set(map(type, values)) == {float}


def _all_numbers(values: list[Any]) -> bool:
    return bool(values) and all(isinstance(x, int | float) for x in values)


def _unexpected(call: PipelineCall, raw: object) -> TypeError:
    return TypeError(f"unexpected {call.postprocess} output: {raw!r:.200}")


def _several(call: PipelineCall) -> bool:
    """Whether the request carried a list of inputs (the answer then has one entry per input)."""
    return bool(call.args) and isinstance(call.args[0], list)


def _texts(key: str) -> Callable[[PipelineCall, Any], Any]:
    """Generated texts as [{key: text}, ...]; a list input gets one such list per input."""

    def shape(call: PipelineCall, raw: Any) -> Any:
        if _several(call):
            return [_text_items(call, item, key) for item in raw]
        if isinstance(raw, list) and len(raw) == 1 and isinstance(raw[0], list):
            raw = raw[0]
        return _text_items(call, raw, key)

    return shape


def _text_items(call: PipelineCall, raw: Any, key: str) -> list[dict[str, str]]:
    items = raw if isinstance(raw, list) else [raw]
    return [{key: _text_of(call, item, key)} for item in items]


def _text_of(call: PipelineCall, item: Any, key: str) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        for name in (key, "generated_text"):  # seq2seq runners may answer either
            if isinstance(item.get(name), str):
                return str(item[name])
    raise _unexpected(call, item)


def _generations(call: PipelineCall, raw: Any) -> Any:
    """Generated sequences (one list per input) as [{"generated_text"}, ...], the prompt echoed
    when `return_full_text`; with `details`, TGI's details of each sequence."""
    if _several(call):
        return [
            _generated(call, prompt, items) for prompt, items in zip(call.args[0], raw, strict=True)
        ]
    return _generated(call, call.args[0], raw)


def _generated(call: PipelineCall, prompt: str, items: list[Generated]) -> list[dict[str, Any]]:
    prefix = prompt if call.kwargs.get("__return_full_text__") else ""
    answers: list[dict[str, Any]] = []
    for item in items:
        answer: dict[str, Any] = {"generated_text": prefix + item.text}
        if call.kwargs.get("__details__"):
            answer["details"] = tgi_details(item, seed=call.kwargs.get("__seed__"))
        answers.append(answer)
    return answers


def tgi_details(item: Generated, *, seed: int | None) -> dict[str, Any]:
    """TGI's `details` of one sequence (without per-token log-probabilities: none are kept)."""
    return {
        "finish_reason": tgi_finish_reason(item.finish_reason),
        "generated_tokens": item.completion_tokens,
        "seed": seed,
        "prefill": [],
        "tokens": [],
    }


def tgi_finish_reason(reason: str) -> str:
    return "length" if reason == "length" else "eos_token"


def _ranked(call: PipelineCall, raw: Any) -> list[dict[str, Any]]:
    """[{label, score}, ...] best first; the pipelines' legacy top-1 dict becomes a list."""
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise _unexpected(call, raw)
    labels = [{"label": item["label"], "score": float(item["score"])} for item in items]
    return sorted(labels, key=lambda item: item["score"], reverse=True)


def _text_classification(call: PipelineCall, raw: Any) -> Any:
    # Nested, one list per input: the client takes element 0 (spec §2.5).
    if _several(call):
        return [_ranked(call, item) for item in raw]
    if isinstance(raw, list) and len(raw) == 1 and isinstance(raw[0], list):
        raw = raw[0]
    return [_ranked(call, raw)]


def _image_classification(call: PipelineCall, raw: Any) -> Any:
    return _ranked(call, raw)


def _as_is(call: PipelineCall, raw: Any) -> Any:
    return raw


def _answers(call: PipelineCall, raw: Any) -> Any:
    """One {answer, score, start, end} dict, or a list of them when `top_k` > 1."""
    several = call.kwargs.get("top_k", 1) > 1
    if isinstance(raw, dict):
        return [raw] if several else raw
    if isinstance(raw, list) and len(raw) == 1 and not several:
        return raw[0]
    return raw


def _zero_shot(call: PipelineCall, raw: Any) -> Any:
    if _several(call):
        return [_labels(call, item) for item in (raw if isinstance(raw, list) else [raw])]
    return _labels(call, raw)


def _labels(call: PipelineCall, raw: Any) -> list[dict[str, Any]]:
    """The pipeline's {sequence, labels, scores} as today's [{label, score}, ...]."""
    if isinstance(raw, dict) and "labels" in raw:
        pairs = zip(raw["labels"], raw["scores"], strict=True)
        return [{"label": label, "score": float(score)} for label, score in pairs]
    return _ranked(call, raw)


def _embeddings(call: PipelineCall, raw: Any) -> Any:
    """Pooled: [f, ...] for a string, [[f, ...], ...] for a list. Token level: as computed."""
    if not call.pooling:
        return raw
    rows = _rows(call, raw)
    dimensions = call.kwargs.get("__dimensions__")
    if dimensions is not None:  # Matryoshka: keep the leading dimensions, then renormalise
        rows = [_truncated(row, dimensions, normalize=call.normalize) for row in rows]
    return rows if _several(call) else rows[0]


def _rows(call: PipelineCall, raw: Any) -> list[list[float]]:
    if isinstance(raw, list) and (_all_floats(raw) or _all_numbers(raw)):
        return [raw]  # one bare vector
    if isinstance(raw, list) and raw and all(isinstance(row, list) for row in raw):
        return raw
    raise _unexpected(call, raw)


def _truncated(row: list[float], dimensions: int, *, normalize: bool) -> list[float]:
    row = row[:dimensions]
    norm = math.sqrt(math.fsum(x * x for x in row))
    return [x / norm for x in row] if normalize and norm else row


def _similarity(call: PipelineCall, raw: Any) -> list[float]:
    """Cosine similarity of the source sentence (row 0) with each of the others."""
    rows = _rows(call, raw)
    if len(rows) != len(call.args[0]):
        raise _unexpected(call, raw)
    source, *others = rows
    return [_cosine(source, other) for other in others]


def _cosine(a: list[float], b: list[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    return dot / norm if norm else 0.0


_SHAPES: dict[str, Callable[[PipelineCall, Any], Any]] = {
    "text-generation": _generations,
    "text2text-generation": _texts("generated_text"),
    "summarization": _texts("summary_text"),
    "translation": _texts("translation_text"),
    "fill-mask": _as_is,
    "text-classification": _text_classification,
    "token-classification": _as_is,
    "question-answering": _answers,
    "zero-shot-classification": _zero_shot,
    "feature-extraction": _embeddings,
    "similarity": _similarity,
    "image-classification": _image_classification,
}
