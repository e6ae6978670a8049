"""What a model's own files say its text generation should do when a request does not say:
`generation_config.json`, then `config.json`'s `task_specific_params["text-generation"]` over it
(the order in which `pipeline()` applies them). Read as JSON on the hub side, without torch, so
that the decision to sample is known before the response cache is asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The `generate` arguments a preset may set for a call; others in those files (token ids,
# beam settings for other tasks) are the model's business and stay in the worker's config.
PRESET_KEYS = frozenset(
    {"do_sample", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty",
     "max_new_tokens", "max_length"}
)  # fmt: skip


def text_generation_presets(model_dir: Path) -> dict[str, Any]:
    """The model's text-generation defaults among `PRESET_KEYS`; {} when it sets none."""
    generation_config = json_object(model_dir / "generation_config.json")
    task_params = json_object(model_dir / "config.json").get("task_specific_params")
    own = task_params.get("text-generation") if isinstance(task_params, dict) else None
    merged = {**generation_config, **(own if isinstance(own, dict) else {})}
    return {key: value for key, value in merged.items() if key in PRESET_KEYS}


def json_object(path: Path) -> dict[str, Any]:
    """A JSON object file's content; a missing or broken file sets nothing (loading the model
    is where such a file gets its clear error)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
