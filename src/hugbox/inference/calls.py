"""HF inference request bodies to `pipeline` calls (the torch-free half of the Inference API);
named `calls`, not `tasks`, because `tasks.py` is where a part keeps its background jobs.

`resolve_task` picks the task, `prepare_call` validates the body and builds the `PipelineCall` a
worker process runs as `pipe(*call.args, **call.kwargs)`, `shape_output` (in `shapes`) turns the
pipeline's result into the JSON huggingface_hub's InferenceClient parses (spec §1.3, §2.3-§2.5).

Keys of `PipelineCall.kwargs` that start with "__" are directives for hugbox (`__seed__`;
`__return_full_text__` and `__details__` for generation; `__prompt_name__` and `__dimensions__`
on pooled calls), never arguments of the pipeline.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from hugbox.inference.shapes import shape_output as shape_output  # re-exported: the API is here

_EMBEDDING_TASKS = frozenset({"feature-extraction", "sentence-similarity"})


class TaskError(ValueError):
    """A request the task cannot run; the message says what to send instead (HTTP 400)."""


@dataclass(frozen=True)
class PipelineCall:
    """One run of a transformers pipeline in a worker: `pipe(*args, **kwargs)`, then the
    `postprocess` step of `shape_output`."""

    task: str  # the pipeline to load: sentence-similarity loads "feature-extraction"
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    postprocess: str  # the task whose wire shape to produce, or "similarity"
    pooling: bool = False  # mean-pool token embeddings in the worker (sentence-transformers)
    normalize: bool = False  # then L2-normalise them
    batchable: bool = False  # requests with equal kwargs may share one batched pipe(...) call


def resolve_task(*, pipeline_tag: str | None, forced: str | None, inputs: object) -> str:
    """The task to run: the one the URL forces, else the model's, with sentence-transformers
    models answering embeddings or similarities depending on the shape of `inputs`."""
    if forced is not None:
        return _supported(forced, f"The task `{forced}` is not supported.")
    if pipeline_tag is None:
        raise TaskError(
            "This model has no `pipeline_tag`: set one in its model card, or call "
            f"/models/{{id}}/pipeline/{{task}}. Supported tasks: {_task_list()}."
        )
    task = _supported(pipeline_tag, f"This model's task `{pipeline_tag}` is not supported.")
    if task in _EMBEDDING_TASKS and isinstance(inputs, dict):
        return "sentence-similarity"
    if task in _EMBEDDING_TASKS and isinstance(inputs, str | list):
        return "feature-extraction"
    return task


def pipeline_for(pipeline_tag: str | None) -> str:
    """The pipeline a model's worker loads for its own task (what `resolve_task` would run)."""
    if pipeline_tag is None:
        raise TaskError("This model has no `pipeline_tag`: set one in its model card.")
    task = _supported(pipeline_tag, f"This model's task `{pipeline_tag}` is not supported.")
    return "feature-extraction" if task in _EMBEDDING_TASKS else task


def _supported(task: str, problem: str) -> str:
    if task not in SUPPORTED_TASKS:
        raise TaskError(f"{problem} Supported tasks: {_task_list()}.")
    return task


def _task_list() -> str:
    return ", ".join(sorted(SUPPORTED_TASKS))


# --- parameter checks: each takes (name, value) and returns the value to pass on -----------------

Check = Callable[[str, Any], Any]


def _check(what: str, ok: Callable[[Any], bool]) -> Check:
    def check(name: str, value: Any) -> Any:
        if not ok(value):
            raise TaskError(f"`{name}` must be {what}, got {value!r}")
        return value

    return check


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _choice(*options: str) -> Check:
    def check(name: str, value: Any) -> Any:
        if not isinstance(value, str) or value.lower() not in options:
            raise TaskError(f"`{name}` must be one of {', '.join(options)}; got {value!r}")
        return value.lower()

    return check


def _strings(name: str, value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    if not _is_strings(value):
        raise TaskError(f"`{name}` must be a string or a list of strings, got {value!r}")
    return list(value)


def _is_strings(value: object) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


_positive = _check("a number > 0", lambda v: _is_number(v) and v > 0)
_non_negative = _check("a number >= 0", lambda v: _is_number(v) and v >= 0)
_probability = _check("a number between 0 and 1", lambda v: _is_number(v) and 0 <= v <= 1)
_any_number = _check("a number", _is_number)
_positive_int = _check("an integer >= 1", lambda v: _is_int(v) and v >= 1)
_non_negative_int = _check("an integer >= 0", lambda v: _is_int(v) and v >= 0)
_bool = _check("true or false", lambda v: isinstance(v, bool))
_string = _check("a non-empty string", lambda v: isinstance(v, str) and v != "")
_function_to_apply = _choice("sigmoid", "softmax", "none")


def _pick(params: dict[str, Any], checks: dict[str, Check]) -> dict[str, Any]:
    """The known, non-null parameters, checked; unknown ones are dropped on purpose (a server
    that complains about TGI parameters breaks InferenceClient, spec §2.4)."""
    return {
        name: check(name, params[name])
        for name, check in checks.items()
        if params.get(name) is not None
    }


# --- generation --------------------------------------------------------------------------------

_GENERATE: dict[str, Check] = {
    "max_new_tokens": _positive_int,
    "temperature": _non_negative,
    "top_k": _positive_int,
    "top_p": _probability,
    "repetition_penalty": _positive,
    "do_sample": _bool,
    "num_return_sequences": _positive_int,
    "max_time": _positive,
}
_TEXT_GENERATION = {
    **_GENERATE,
    "typical_p": _probability,
    "return_full_text": _bool,
    "details": _bool,
    "seed": _non_negative_int,
    "stop": _strings,
}
_SEQ2SEQ_GENERATE = {
    **_GENERATE,
    "max_length": _positive_int,
    "min_length": _non_negative_int,
    "min_new_tokens": _non_negative_int,
    "num_beams": _positive_int,
    "no_repeat_ngram_size": _non_negative_int,
    "length_penalty": _any_number,
    "early_stopping": _bool,
}
_SEQ2SEQ_OPTIONS: dict[str, Check] = {
    "clean_up_tokenization_spaces": _bool,
    "truncation": _choice("do_not_truncate", "longest_first", "only_first", "only_second"),
}
_TRANSLATION_OPTIONS = {**_SEQ2SEQ_OPTIONS, "src_lang": _string, "tgt_lang": _string}
_SAMPLING_KNOBS = ("temperature", "top_k", "top_p", "typical_p")


# The model's presets (see `presets`) that a call takes, each checked: a preset out of range
# (top_k 0 meaning "off", temperature 0) is dropped rather than failing every call.
_PRESETS: dict[str, Check] = {
    "do_sample": _bool,
    "temperature": _positive,
    "top_k": _positive_int,
    "top_p": _probability,
    "typical_p": _probability,
    "repetition_penalty": _positive,
    "max_new_tokens": _positive_int,
    "max_length": _positive_int,
}


def _decide_sampling(kwargs: dict[str, Any], presets: Mapping[str, Any] | None = None) -> None:
    """Always set `do_sample`, so the model's own generation config cannot make a call random
    behind `cache_key`'s back. Like TGI: a sampling knob means "sample", temperature 0 greedy;
    a request that says neither follows the model's `presets`."""
    if kwargs.get("temperature") == 0:
        kwargs["do_sample"] = False
    elif "do_sample" not in kwargs:
        asked = any(knob in kwargs for knob in _SAMPLING_KNOBS)
        kwargs["do_sample"] = asked or (presets or {}).get("do_sample") is True
    if not kwargs["do_sample"]:
        for knob in _SAMPLING_KNOBS:  # generate() warns about knobs greedy search ignores
            kwargs.pop(knob, None)
        if kwargs.get("num_return_sequences", 1) > kwargs.get("num_beams", 1):
            raise TaskError(
                "`num_return_sequences` > 1 needs sampling: set `do_sample` to true or give a "
                "`temperature` > 0"
            )


def _text_generation(
    inputs: object, params: dict[str, Any], presets: Mapping[str, Any] | None = None
) -> PipelineCall:
    """A `generate` call, the model's `presets` filling in what `params` leave out; how to
    present its result (`return_full_text`, `details`) rides along as directives for
    `shape_output`."""
    text = _text_inputs("text-generation", inputs)
    kwargs = _pick(params, _TEXT_GENERATION)
    kwargs["__return_full_text__"] = kwargs.pop("return_full_text", True)  # classic: echo prompt
    kwargs["__details__"] = kwargs.pop("details", False)
    seed = kwargs.pop("seed", None)
    if stop := kwargs.pop("stop", None):
        kwargs["stop_strings"] = stop
    _decide_sampling(kwargs, presets)
    kwargs = _with_presets(kwargs, presets or {})
    if kwargs["do_sample"] and seed is not None:
        kwargs["__seed__"] = seed
    return PipelineCall("text-generation", (text,), kwargs, "text-generation")


def _with_presets(asked: dict[str, Any], presets: Mapping[str, Any]) -> dict[str, Any]:
    """`asked` (its `do_sample` decided) over the model's valid presets. Sampling knobs join a
    sampled call only; `max_length` (prompt included) only when no `max_new_tokens` is set, and
    the worker turns it into each prompt's `max_new_tokens`."""
    valid = {}
    for name, check in _PRESETS.items():
        try:
            valid[name] = check(name, presets[name])
        except (KeyError, TaskError):
            continue
    dropped = {"do_sample"} | (set() if asked["do_sample"] else set(_SAMPLING_KNOBS))
    if "max_new_tokens" in asked or "max_new_tokens" in valid:
        dropped.add("max_length")
    return {**{k: v for k, v in valid.items() if k not in dropped}, **asked}


def _seq2seq(
    task: str, options: dict[str, Check]
) -> Callable[[object, dict[str, Any]], PipelineCall]:
    def prepare(inputs: object, params: dict[str, Any]) -> PipelineCall:
        text = _text_inputs(task, inputs)
        nested = params.get("generate_parameters") or {}
        if not isinstance(nested, dict):
            raise TaskError("`generate_parameters` must be a JSON object")
        kwargs = _pick({**params, **nested}, _SEQ2SEQ_GENERATE)
        _decide_sampling(kwargs)
        return PipelineCall(task, (text,), {**kwargs, **_pick(params, options)}, task)

    return prepare


# --- the other tasks ---------------------------------------------------------------------------


def _text_inputs(task: str, inputs: object) -> str | list[str]:
    if isinstance(inputs, bytes) and inputs:  # a raw body (text/plain, or no type): the text
        try:
            inputs = inputs.decode("utf-8")
        except UnicodeDecodeError:
            raise TaskError(f"{task} needs text: the raw body is not UTF-8") from None
    if isinstance(inputs, str) or (_is_strings(inputs) and inputs):
        return inputs
    raise TaskError(f"{task} needs `inputs` as a string or a non-empty list of strings")


def _encoder_call(task: str, inputs: object, kwargs: dict[str, Any]) -> PipelineCall:
    text = _text_inputs(task, inputs)
    return PipelineCall(task, (text,), kwargs, task, batchable=isinstance(text, str))


def _fill_mask(inputs: object, params: dict[str, Any]) -> PipelineCall:
    kwargs = _pick(params, {"top_k": _positive_int, "targets": _strings})
    return _encoder_call("fill-mask", inputs, kwargs)


def _text_classification(inputs: object, params: dict[str, Any]) -> PipelineCall:
    # top_k=None (all labels, sorted) unless asked: HF's answer, and the pipeline's non-legacy mode.
    checks = {"top_k": _positive_int, "function_to_apply": _function_to_apply}
    return _encoder_call("text-classification", inputs, {"top_k": None, **_pick(params, checks)})


def _token_classification(inputs: object, params: dict[str, Any]) -> PipelineCall:
    checks = {
        "aggregation_strategy": _choice("none", "simple", "first", "average", "max"),
        "ignore_labels": _strings,
        "stride": _non_negative_int,
    }
    kwargs = {"aggregation_strategy": "simple", **_pick(params, checks)}
    if "stride" in kwargs and kwargs["aggregation_strategy"] == "none":
        raise TaskError("`stride` needs an `aggregation_strategy` other than none")
    return _encoder_call("token-classification", inputs, kwargs)


def _zero_shot(inputs: object, params: dict[str, Any]) -> PipelineCall:
    labels = params.get("candidate_labels")
    if isinstance(labels, str):
        labels = [label.strip() for label in labels.split(",") if label.strip()]
    if not (_is_strings(labels) and labels):
        raise TaskError(
            "zero-shot-classification needs `candidate_labels` in `parameters`: a list of "
            'strings, or one comma-separated string such as "sport, politics"'
        )
    kwargs = {"candidate_labels": labels, **_pick(params, {"multi_label": _bool})}
    template = params.get("hypothesis_template")
    if template is not None:
        if not (isinstance(template, str) and "{}" in template):
            raise TaskError('`hypothesis_template` must be a string containing "{}"')
        kwargs["hypothesis_template"] = template
    return _encoder_call("zero-shot-classification", inputs, kwargs)


def _question_answering(inputs: object, params: dict[str, Any]) -> PipelineCall:
    if not (
        isinstance(inputs, dict)
        and isinstance(inputs.get("question"), str)
        and isinstance(inputs.get("context"), str)
    ):
        raise TaskError('question-answering needs inputs {"question": str, "context": str}')
    checks = {
        "top_k": _positive_int,
        "doc_stride": _non_negative_int,
        "max_answer_len": _positive_int,
        "max_seq_len": _positive_int,
        "max_question_len": _positive_int,
        "handle_impossible_answer": _bool,
        "align_to_words": _bool,
    }
    question = {"question": inputs["question"], "context": inputs["context"]}
    return PipelineCall(
        "question-answering", (question,), _pick(params, checks), "question-answering"
    )


def _image_classification(inputs: object, params: dict[str, Any]) -> PipelineCall:
    kwargs = _pick(params, {"top_k": _positive_int, "function_to_apply": _function_to_apply})
    image = _image_bytes(inputs)
    return PipelineCall(
        "image-classification", (image,), kwargs, "image-classification", batchable=True
    )


def _image_bytes(inputs: object) -> bytes:
    """Raw bytes of the image; never a URL or a path (the pipeline would fetch or open those)."""
    if isinstance(inputs, bytes | bytearray) and inputs:
        return bytes(inputs)
    if isinstance(inputs, str):
        encoded = inputs.split(",", 1)[-1] if inputs.startswith("data:") else inputs
        try:
            image = base64.b64decode("".join(encoded.split()), validate=True)
        except binascii.Error:
            image = b""
        if image:
            return image
    raise TaskError(
        "image-classification needs the image itself: the raw file as the request body, or its "
        "base64 in `inputs` (URLs and paths are not fetched)"
    )


_EMBEDDING_OPTIONS: dict[str, Check] = {
    "normalize": _bool,
    "truncate": _bool,
    "prompt_name": _string,
    "dimensions": _positive_int,
}


def _feature_extraction(inputs: object, params: dict[str, Any], *, pooling: bool) -> PipelineCall:
    text = _text_inputs("feature-extraction", inputs)
    options = _pick(params, _EMBEDDING_OPTIONS)
    kwargs: dict[str, Any] = {"truncation": options.get("truncate", True)}
    if pooling and "prompt_name" in options:
        kwargs["__prompt_name__"] = options["prompt_name"]
    if pooling and "dimensions" in options:
        kwargs["__dimensions__"] = options["dimensions"]
    return PipelineCall(
        "feature-extraction",
        (text,),
        kwargs,
        "feature-extraction",
        pooling=pooling,
        normalize=pooling and options.get("normalize", False),
        # Token embeddings of a batched pipeline call keep the batch's padding rows; only the
        # masked mean-pooling of the worker is padding-free.
        batchable=pooling and isinstance(text, str),
    )


def _sentence_similarity(inputs: object) -> PipelineCall:
    source = inputs.get("source_sentence") if isinstance(inputs, dict) else None
    sentences = inputs.get("sentences") if isinstance(inputs, dict) else None
    if not (isinstance(source, str) and _is_strings(sentences) and sentences):
        raise TaskError(
            'sentence-similarity needs inputs {"source_sentence": str, "sentences": [str, ...]}'
        )
    texts = [source, *sentences]
    return PipelineCall(
        "feature-extraction", (texts,), {"truncation": True}, "similarity", pooling=True
    )


_PREPARE: dict[str, Callable[[object, dict[str, Any]], PipelineCall]] = {
    "text-generation": _text_generation,
    "text2text-generation": _seq2seq("text2text-generation", _SEQ2SEQ_OPTIONS),
    "summarization": _seq2seq("summarization", _SEQ2SEQ_OPTIONS),
    "translation": _seq2seq("translation", _TRANSLATION_OPTIONS),
    "fill-mask": _fill_mask,
    "text-classification": _text_classification,
    "token-classification": _token_classification,
    "question-answering": _question_answering,
    "zero-shot-classification": _zero_shot,
    "image-classification": _image_classification,
}
SUPPORTED_TASKS: frozenset[str] = frozenset({*_PREPARE, *_EMBEDDING_TASKS})


def prepare_call(
    task: str,
    body: dict[str, Any],
    *,
    sentence_transformers: bool,
    presets: Mapping[str, Any] | None = None,
) -> PipelineCall:
    """Validate `body` (JSON, or {"inputs": raw bytes} for a raw upload) for `task`; a
    text-generation call follows the model's `presets` where `body` says nothing."""
    _supported(task, f"The task `{task}` is not supported.")
    if "inputs" not in body:
        raise TaskError('The request body needs `inputs`: {"inputs": ..., "parameters": {...}}')
    params = body.get("parameters")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise TaskError("`parameters` must be a JSON object")
    inputs = body["inputs"]
    if task == "feature-extraction":  # InferenceClient sends its options at the body's root
        return _feature_extraction(inputs, {**params, **body}, pooling=sentence_transformers)
    if task == "sentence-similarity":
        return _sentence_similarity(inputs)
    if task == "text-generation":
        return _text_generation(inputs, params, presets)
    return _PREPARE[task](inputs, params)


def cache_key(repo_sha: str, call: PipelineCall) -> str | None:
    """A key for the response cache, or None when the answer may differ between two runs."""
    if call.kwargs.get("do_sample") or "max_time" in call.kwargs:
        return None
    fields = {
        "repo_sha": repo_sha,
        "task": call.task,
        "args": call.args,
        "kwargs": call.kwargs,
        "postprocess": call.postprocess,
        "pooling": call.pooling,
        "normalize": call.normalize,
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=_bytes_digest)
    return hashlib.sha256(text.encode()).hexdigest()


def _bytes_digest(value: object) -> dict[str, str]:
    if isinstance(value, bytes):
        return {"bytes_sha256": hashlib.sha256(value).hexdigest()}
    raise TypeError(f"cannot key a {type(value).__name__}")
