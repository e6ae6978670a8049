"""The worker's batched decoding gives every row what it would get alone: left padding, per-row
token limits and streaming must not change a greedy answer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from hugbox.inference.worker import generation
from tiny_models import bpe_tokenizer

PROMPTS = ["hello", "hello there, how are you today?", "a quiet river under the old bridge"]


@pytest.fixture(scope="module")
def pipe() -> Any:
    tokenizer = bpe_tokenizer([*PROMPTS, "the small garden behind the house is green"])
    torch.manual_seed(0)
    # Wide initial weights: well separated logits, so no argmax is a near tie that the padded
    # batch's summation order could flip.
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2,
        initializer_range=0.5,
    )  # fmt: skip
    return SimpleNamespace(model=GPT2LMHeadModel(config).eval(), tokenizer=tokenizer)


def _rows(pipe: Any, limits: list[int], emits: list[list[str]] | None = None) -> list[Any]:
    return [
        generation.Row(
            job_id=index, prompt_ids=generation.encode(pipe.tokenizer, prompt),
            max_new_tokens=limit, emit=emits[index].append if emits else None,
        )
        for index, (prompt, limit) in enumerate(zip(PROMPTS, limits, strict=True))
    ]  # fmt: skip


def _decode(pipe: Any, rows: list[Any]) -> list[generation.Generated]:
    return generation.generate(pipe, rows, {"do_sample": False}, set)


def test_a_batch_decodes_each_row_as_it_would_alone(pipe: Any) -> None:
    limits = [12, 5, 9]
    together = _decode(pipe, _rows(pipe, limits))
    alone = [_decode(pipe, [row])[0] for row in _rows(pipe, limits)]
    assert together == alone
    assert [g.completion_tokens for g in together] == [
        min(limit, g.completion_tokens) for limit, g in zip(limits, together, strict=True)
    ]


def test_streamed_rows_emit_exactly_their_final_text(pipe: Any) -> None:
    emitted: list[list[str]] = [[], [], []]
    done = _decode(pipe, _rows(pipe, [10, 10, 4], emitted))
    assert ["".join(pieces) for pieces in emitted] == [g.text for g in done]
    assert done[2].finish_reason in ("length", "stop")
