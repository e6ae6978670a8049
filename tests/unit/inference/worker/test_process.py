"""How the worker splits a batch of texts by length: padding is work thrown away."""

from __future__ import annotations

import itertools

import pytest

from hugbox.inference.worker.process import Job, _length_buckets, _new_tokens


@pytest.mark.parametrize(
    "lengths",
    [[5], [7] * 32, list(range(1, 40)), [3] * 20 + [120] * 4, list(range(1, 600))],
)
def test_buckets_cover_every_text_once_in_order(lengths: list[int]) -> None:
    runs = _length_buckets(lengths)
    assert runs[0][0] == 0 and runs[-1][1] == len(lengths)
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(runs))
    assert all(start < end for start, end in runs)


def test_equal_lengths_run_as_one_pass_and_outliers_get_their_own() -> None:
    assert _length_buckets([12] * 32) == [(0, 32)]
    assert _length_buckets([3] * 20 + [120] * 4) == [(0, 20), (20, 24)]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"max_new_tokens": 7}, 7),
        ({"max_length": 50}, 40),  # a preset's total length, the 10-token prompt included
        ({"max_length": 8}, 1),  # at least one new token, as `generate` gives
        ({"max_length": 50, "max_new_tokens": 7}, 7),
        ({}, None),
    ],
)
def test_new_tokens_per_prompt(kwargs: dict[str, int], expected: int | None) -> None:
    job = Job(1, ("p",), kwargs, pooling=False, normalize=False, batchable=False, seed=None)
    assert _new_tokens(job, 10) == expected
