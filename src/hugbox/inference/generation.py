"""Worker side of chat and completion requests: prompt (or chat template), generate, and stream
the text as it is produced."""

from __future__ import annotations

import threading
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
    finish_reason: str  # "stop" (end of sequence or a stop string) or "length"


def generate(
    pipe: Any, prompt: str | list[dict[str, Any]], kwargs: dict[str, Any],
    emit: Callable[[str], None] | None,
) -> Generated:  # fmt: skip
    """Run `generate` on a text prompt or chat messages; `emit` receives text as it streams."""
    import torch
    from transformers import TextIteratorStreamer

    tokenizer, model = pipe.tokenizer, pipe.model
    if isinstance(prompt, str):
        encoded = tokenizer(prompt, return_tensors="pt")
    else:
        encoded = tokenizer.apply_chat_template(
            prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
    prompt_len = int(encoded["input_ids"].shape[1])
    options = {"pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id, **kwargs}
    if options.get("stop_strings"):
        options["tokenizer"] = tokenizer
    if emit is None:
        with torch.inference_mode():
            output = model.generate(**encoded, **options)
        new = output[0][prompt_len:]
        text = tokenizer.decode(new, skip_special_tokens=True)
        return _finish(tokenizer, new, text, prompt_len, options)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    result: dict[str, Any] = {}

    def run() -> None:
        with torch.inference_mode():
            result["output"] = model.generate(**encoded, **options, streamer=streamer)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    pieces = []
    for piece in streamer:
        if piece:
            pieces.append(piece)
            emit(piece)
    thread.join()
    new = result["output"][0][prompt_len:]
    return _finish(tokenizer, new, "".join(pieces), prompt_len, options)


def _finish(
    tokenizer: Any, new: Any, text: str, prompt_len: int, options: dict[str, Any]
) -> Generated:
    count = int(new.shape[0])
    limit = options.get("max_new_tokens")
    ended = count > 0 and int(new[-1]) == tokenizer.eos_token_id
    reason = "length" if limit is not None and count >= limit and not ended else "stop"
    return Generated(text, prompt_len, count, reason)
