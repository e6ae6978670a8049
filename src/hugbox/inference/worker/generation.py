"""Worker side of text generation: prompts (or chat messages) of several requests decoded as one
left-padded batch, each row with its own token limit, streamed row by row, stopped when its
client goes away."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Chunk:
    """A piece of generated text for a streaming job, sent before its final Outcome."""

    id: int
    text: str


@dataclass(frozen=True)
class Generated:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end of sequence or a stop string), "length" or "cancelled"


@dataclass
class Row:
    """One sequence of a batch: whose it is, its prompt, its limit, where its text streams to."""

    job_id: int
    prompt_ids: list[int]
    max_new_tokens: int
    emit: Callable[[str], None] | None = None
    prompt_index: int = 0  # which of the job's prompts (a request may send several)
    ids: list[int] | None = None  # generated so far (the streamer's view)
    sent: str = ""  # text already emitted
    ended: bool = False  # end of sequence seen, or the limit reached


def encode(tokenizer: Any, prompt: str | list[dict[str, Any]]) -> list[int]:
    """Token ids of a text prompt, or of chat messages through the tokenizer's chat template."""
    if isinstance(prompt, str):
        return list(tokenizer(prompt)["input_ids"])
    encoded = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_dict=True)
    return list(encoded["input_ids"])


def generate(
    pipe: Any, rows: list[Row], options: dict[str, Any], cancelled: Callable[[], set[int]]
) -> list[Generated]:
    """Decode every row together; `options` are the `generate` arguments the rows share, and
    `cancelled()` names the jobs whose clients have gone (polled between tokens)."""
    import torch
    from transformers import StoppingCriteriaList

    tokenizer, model = pipe.tokenizer, pipe.model
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    input_ids, attention_mask = _left_padded([r.prompt_ids for r in rows], pad)
    width = input_ids.shape[1]
    stops = _RowStops(rows, width, cancelled)
    options = {**options, "max_new_tokens": max(r.max_new_tokens for r in rows)}
    if options.get("stop_strings"):
        options["tokenizer"] = tokenizer
    streamer = _RowStreamer(tokenizer, rows) if any(r.emit for r in rows) else None
    with torch.inference_mode():
        output = model.generate(
            input_ids=input_ids, attention_mask=attention_mask, pad_token_id=pad,
            stopping_criteria=StoppingCriteriaList([stops]), streamer=streamer, **options,
        )  # fmt: skip
    return [
        _finish(tokenizer, row, output[i, width:].tolist(), eos, stops.cancelled_ids)
        for i, row in enumerate(rows)
    ]


def _left_padded(prompts: list[list[int]], pad: int) -> tuple[Any, Any]:
    """Decoder-only models continue from the last position, so shorter prompts pad on the left."""
    import torch

    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, prompt in enumerate(prompts):
        if prompt:
            ids[i, width - len(prompt) :] = torch.tensor(prompt)
            mask[i, width - len(prompt) :] = 1
    return ids, mask


def _finish(
    tokenizer: Any, row: Row, new: list[int], eos: int | None, cancelled: set[int]
) -> Generated:
    new = new[: row.max_new_tokens]
    ended = eos is not None and eos in new
    if eos is not None and ended:
        new = new[: new.index(eos)]
    text = tokenizer.decode(new, skip_special_tokens=True)
    if row.job_id in cancelled:
        reason = "cancelled"
    elif ended or len(new) < row.max_new_tokens:
        reason = "stop"
    else:
        reason = "length"
    return Generated(text, len(row.prompt_ids), len(new), reason)


class _RowStops:
    """Per-row stopping: a row is done at its own token limit, or when its client has gone."""

    def __init__(self, rows: list[Row], width: int, cancelled: Callable[[], set[int]]):
        self.rows, self.width, self.cancelled = rows, width, cancelled
        self.cancelled_ids: set[int] = set()

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        produced = input_ids.shape[1] - self.width
        gone = self.cancelled() & {r.job_id for r in self.rows}
        self.cancelled_ids |= gone
        done = [produced >= r.max_new_tokens or r.job_id in gone for r in self.rows]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class _RowStreamer:
    """A `generate` streamer for a batch: decodes each streaming row's tokens as they come and
    emits the new text, holding back an incomplete multi-byte character."""

    def __init__(self, tokenizer: Any, rows: list[Row]):
        self.tokenizer, self.rows = tokenizer, rows
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate hands over the prompt first
            self.prompt_seen = True
            return
        for row, token in zip(self.rows, value.view(-1).tolist(), strict=True):
            if row.emit is not None and not row.ended:
                self._advance(row, int(token))

    def _advance(self, row: Row, token: int) -> None:
        row.ids = [*(row.ids or []), token]
        if token == self.tokenizer.eos_token_id or len(row.ids) >= row.max_new_tokens:
            row.ended = True
        text = self.tokenizer.decode(
            [t for t in row.ids if t != self.tokenizer.eos_token_id], skip_special_tokens=True
        )
        if text.endswith("\ufffd") and not row.ended:
            return
        if len(text) > len(row.sent) and row.emit is not None:
            row.emit(text[len(row.sent) :])
            row.sent = text

    def end(self) -> None:
        pass
