"""Repo cards: the README's YAML front-matter, and what HF derives from it and from config.json."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

# Blank lines may come first: huggingface_hub's own parser (and HF's validation) skip them.
_FRONT_MATTER = re.compile(
    r"\A\ufeff?(?:[ \t]*\r?\n)*---[ \t]*\r?\n(.*?)(?:\r?\n)?^---[ \t]*$", re.S | re.M
)

_ARCHITECTURE_TASKS = [
    ("ForCausalLM", "text-generation"),
    ("LMHeadModel", "text-generation"),
    ("ForSequenceClassification", "text-classification"),
    ("ForMaskedLM", "fill-mask"),
    ("ForTokenClassification", "token-classification"),
    ("ForQuestionAnswering", "question-answering"),
    ("ForImageClassification", "image-classification"),
    ("ForSpeechSeq2Seq", "automatic-speech-recognition"),
    ("ForCTC", "automatic-speech-recognition"),
    ("ForSeq2SeqLM", "text2text-generation"),
    ("ForConditionalGeneration", "text2text-generation"),
]


class CardError(ValueError):
    """The README's metadata block is not valid YAML, or has a field of the wrong shape."""


def parse_front_matter(text: str) -> dict[str, Any] | None:
    """The YAML block at the top of a card; None when there is none."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return None
    try:
        data = yaml.safe_load(match[1])
    except yaml.YAMLError as exc:
        raise CardError(f"Invalid YAML in the card's metadata: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CardError("The card's metadata must be a YAML mapping")
    return _jsonable(data)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    # YAML dates and other non-JSON scalars become strings, as HF returns them.
    return dict(json.loads(json.dumps(data, default=str)))


def validate_metadata(data: dict[str, Any]) -> list[str]:
    """Errors in metadata fields whose shape clients depend on."""
    errors = []
    for key in ("model-index", "tags", "configs"):
        if key in data and not isinstance(data[key], list):
            errors.append(f'"{key}" must be an array')
    # HF takes one dataset as a bare string (huggingface_hub's CardData writes `datasets: glue`).
    if "datasets" in data and not isinstance(data["datasets"], (str, list)):
        errors.append('"datasets" must be a string or an array')
    for key in ("pipeline_tag", "library_name"):
        if key in data and not isinstance(data[key], str):
            errors.append(f'"{key}" must be a string')
    if "license" in data and not isinstance(data["license"], (str, list)):
        errors.append('"license" must be a string')
    return errors


def tags_from_card(card: dict[str, Any]) -> list[str]:
    tags = card.get("tags") or []
    tags = [tags] if isinstance(tags, str) else [str(t) for t in tags]
    for key in ("library_name", "pipeline_tag"):
        if isinstance(card.get(key), str):
            tags.append(card[key])
    for key, prefix in (("license", "license:"), ("language", ""), ("datasets", "dataset:")):
        values = card.get(key) or []
        for value in [values] if isinstance(values, str) else values:
            tags.append(f"{prefix}{value}")
    return list(dict.fromkeys(tags))


def pipeline_tag_from_config(config: dict[str, Any]) -> str | None:
    architectures = config.get("architectures") or []
    architecture = architectures[0] if architectures else ""
    for suffix, task in _ARCHITECTURE_TASKS:
        if isinstance(architecture, str) and architecture.endswith(suffix):
            return task
    if config.get("model_type") == "bert" and architecture == "BertModel":
        return "feature-extraction"
    return None


def parse_config(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        config = json.loads(data)
    except ValueError:
        return None
    return config if isinstance(config, dict) else None
