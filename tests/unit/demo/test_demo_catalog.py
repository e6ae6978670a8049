"""The demo catalog and the cheap parts of the GPT-2 training recipe."""

from __future__ import annotations

import pytest

from hugbox.demo import gpt2_train
from hugbox.demo.catalog import RECIPES


def test_catalog_names_the_expected_repos() -> None:
    found = {(r.repo_id, r.repo_type, r.aliases) for r in RECIPES}
    assert found == {
        ("sentence-transformers/all-MiniLM-L6-v2", "model", ()),
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "model", ()),
        ("openai-community/gpt2", "model", ("gpt2",)),
        ("wikimedia/wikipedia", "dataset", ()),
        ("hugbox/drug-reviews", "dataset", ()),
        ("hugbox/sentence-similarity", "space", ()),
        ("hugbox/drug-reviews-explorer", "space", ()),
    }
    assert len({r.name for r in RECIPES}) == len(RECIPES)


def test_pack_blocks_ends_documents_and_drops_the_remainder() -> None:
    blocks = gpt2_train.pack_blocks([[1, 2], [3], [4, 5, 6]], eos_id=0, block_size=4)
    assert blocks.tolist() == [[1, 2, 0, 3], [0, 4, 5, 6]]


def test_learning_rate_warms_up_then_decays() -> None:
    warm = gpt2_train.WARMUP_STEPS
    assert gpt2_train.learning_rate(0, 0.0) < gpt2_train.learning_rate(warm - 1, 0.0)
    assert gpt2_train.learning_rate(warm, 0.0) == gpt2_train.PEAK_LR
    end = gpt2_train.learning_rate(warm + 100, 1.0)
    assert end == pytest.approx(gpt2_train.PEAK_LR * gpt2_train.MIN_LR_RATIO)
