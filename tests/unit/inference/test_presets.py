"""A model's own text-generation defaults: read from its files, then filled into the calls whose
requests leave them out (the classic API's and `pipeline()`'s behaviour)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hugbox.inference.calls import TaskError, cache_key, prepare_call
from hugbox.inference.presets import text_generation_presets

# GPT-2's own config.json and generation_config.json, as far as generation goes.
GPT2_TASK_PARAMS = {"text-generation": {"do_sample": True, "max_length": 50}}
ECHO = {"__return_full_text__": True, "__details__": False}


def _model(folder: Path, config: dict[str, Any], generation: dict[str, Any] | None) -> Path:
    (folder / "config.json").write_text(json.dumps(config))
    if generation is not None:
        (folder / "generation_config.json").write_text(json.dumps(generation))
    return folder


def _kwargs(params: dict[str, Any], presets: dict[str, Any]) -> dict[str, Any]:
    body = {"inputs": "p", "parameters": params}
    return prepare_call(
        "text-generation", body, sentence_transformers=False, presets=presets
    ).kwargs


def test_gpt2_samples_up_to_50_tokens_by_default(tmp_path: Path) -> None:
    config = {"model_type": "gpt2", "task_specific_params": GPT2_TASK_PARAMS}
    folder = _model(tmp_path, config, {"bos_token_id": 0, "eos_token_id": 0})
    assert text_generation_presets(folder) == {"do_sample": True, "max_length": 50}


def test_task_params_override_the_generation_config(tmp_path: Path) -> None:
    generation = {"do_sample": False, "temperature": 0.7, "top_k": 40, "eos_token_id": 2}
    config = {"task_specific_params": {"text-generation": {"do_sample": True}, "summarization": {}}}
    folder = _model(tmp_path, config, generation)
    assert text_generation_presets(folder) == {"do_sample": True, "temperature": 0.7, "top_k": 40}


@pytest.mark.parametrize("broken", ["{not json", "[1, 2]", '{"task_specific_params": 3}'])
def test_missing_or_broken_files_set_nothing(tmp_path: Path, broken: str) -> None:
    assert text_generation_presets(tmp_path) == {}
    (tmp_path / "config.json").write_text(broken)
    (tmp_path / "generation_config.json").write_text(broken)
    assert text_generation_presets(tmp_path) == {}


PRESETS = {"do_sample": True, "temperature": 0.8, "top_k": 40, "max_length": 50}


@pytest.mark.parametrize(
    ("params", "presets", "expected"),
    [
        ({}, PRESETS, {"do_sample": True, "temperature": 0.8, "top_k": 40, "max_length": 50}),
        ({}, {"do_sample": False, "temperature": 0.8}, {"do_sample": False}),
        ({}, {"temperature": 0.8, "max_new_tokens": 9}, {"do_sample": False, "max_new_tokens": 9}),
        # The request wins: its own knobs, lengths and choice to sample or not.
        ({"top_k": 5, "max_new_tokens": 3}, PRESETS,
         {"do_sample": True, "temperature": 0.8, "top_k": 5, "max_new_tokens": 3}),
        ({"do_sample": False}, PRESETS, {"do_sample": False, "max_length": 50}),
        ({"temperature": 0}, PRESETS, {"do_sample": False, "max_length": 50}),
        ({"temperature": 0.5}, {"do_sample": False, "top_p": 0.9},
         {"do_sample": True, "temperature": 0.5, "top_p": 0.9}),
        # Presets out of range are dropped, never the caller's 400.
        ({}, {"do_sample": "yes", "top_k": 0, "temperature": 0, "max_length": -1},
         {"do_sample": False}),
    ],
)  # fmt: skip
def test_the_request_leaves_the_rest_to_the_model(
    params: dict[str, Any], presets: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert _kwargs(params, presets) == {**ECHO, **expected}


def test_a_sampled_default_is_never_cached_and_greedy_asked_is() -> None:
    sampled = prepare_call(
        "text-generation", {"inputs": "p"}, sentence_transformers=False, presets=PRESETS
    )
    assert cache_key("a" * 40, sampled) is None
    body = {"inputs": "p", "parameters": {"do_sample": False}}
    greedy = prepare_call("text-generation", body, sentence_transformers=False, presets=PRESETS)
    assert cache_key("a" * 40, greedy) is not None


@pytest.mark.parametrize(("raw", "expected"), [(b"Once upon", "Once upon"), ("é".encode(), "é")])
def test_a_raw_text_body_is_the_prompt(raw: bytes, expected: str) -> None:
    call = prepare_call("text-generation", {"inputs": raw}, sentence_transformers=False)
    assert call.args == (expected,)


def test_a_raw_body_that_is_not_text_is_refused() -> None:
    with pytest.raises(TaskError, match="not UTF-8"):
        prepare_call("text-generation", {"inputs": b"\xff\xfe"}, sentence_transformers=False)
