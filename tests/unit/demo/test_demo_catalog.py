"""The demo catalog and the cheap parts of the GPT-2 training recipe."""

from __future__ import annotations

import pytest

from hugbox.demo import gpt2, gpt2_train
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
    recipe = gpt2.RECIPE
    warm = recipe.warmup_steps
    assert recipe.learning_rate(0, 0.0) < recipe.learning_rate(warm - 1, 0.0)
    assert recipe.learning_rate(warm, 0.0) == recipe.peak_lr
    end = recipe.learning_rate(warm + 100, 1.0)
    assert end == pytest.approx(recipe.peak_lr * recipe.min_lr_ratio)


def test_held_out_documents_are_never_trained_on() -> None:
    documents = [[i] for i in range(200)]
    training, held_out = gpt2_train.split_documents(documents)
    assert len(held_out) == 200 // gpt2_train.HELD_OUT_EVERY
    assert not {tuple(d) for d in training} & {tuple(d) for d in held_out}
    assert len(training) + len(held_out) == len(documents)


def test_sampled_negatives_follow_the_corpus_counts() -> None:
    import torch

    blocks = gpt2_train.pack_blocks([[5, 2, 5, 5], [7]], eos_id=0, block_size=3)
    sampler = gpt2_train.Sampler.of(blocks, vocab_size=10, size=64)
    ids, log_expected = sampler.draw(torch.Generator().manual_seed(0))
    assert set(ids.tolist()) <= {0, 2, 5, 7}  # never a token type the text lacks
    assert log_expected[5] > log_expected[2] > float("-inf") == log_expected[3]
