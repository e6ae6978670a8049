"""Render and read repo cards: a README.md with YAML front-matter, as the Hub expects."""

from collections.abc import Mapping
from typing import Any

import yaml

FENCE = "---"


class CardDumper(yaml.SafeDumper):
    """A YAML dumper that repeats shared values instead of writing `&id001` anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        # Anchors are valid YAML, but cards are read by people and by simpler parsers.
        return True


def render_card(metadata: Mapping[str, Any], body: str) -> str:
    """Return README.md text: `metadata` as YAML front-matter followed by the Markdown body."""
    # sort_keys=False keeps the order a person reading the card expects (license first).
    front = yaml.dump(dict(metadata), Dumper=CardDumper, sort_keys=False, allow_unicode=True)
    return f"{FENCE}\n{front}{FENCE}\n\n{body.strip()}\n"


def split_card(text: str) -> tuple[dict[str, Any], str]:
    """Return (front-matter mapping, body) of a card; an empty mapping if it has none."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != FENCE:
        return {}, text
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == FENCE:
            loaded = yaml.safe_load("".join(lines[1:index])) or {}
            if not isinstance(loaded, dict):
                raise ValueError("card front-matter is not a mapping")
            return loaded, "".join(lines[index + 1 :])
    raise ValueError("card front-matter is not closed")
