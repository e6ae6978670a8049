"""The response cache: a byte-bounded LRU, and the `/status` states built from model facts."""

from __future__ import annotations

from pathlib import Path

from hugbox.inference.cache import ResponseCache
from hugbox.inference.executor import ModelKey
from hugbox.inference.service import ModelFacts, model_status

ANSWER = b'[[{"label":"pos","score":0.5}]]'
OTHER = b'[[{"label":"neg","score":0.5}]]'
SIZE = len(ANSWER)


def test_least_recently_used_answers_go_first() -> None:
    cache = ResponseCache(max_bytes=4 * SIZE)
    for key in "abcd":
        cache.put(key, ANSWER)
    assert cache.get("a") == ANSWER  # now the most recently used
    cache.put("e", ANSWER)
    assert cache.get("b") is None
    assert [cache.get(k) is not None for k in "acde"] == [True] * 4
    assert (len(cache), cache.size, cache.hits, cache.misses) == (4, 4 * SIZE, 5, 1)


def test_a_fresh_answer_replaces_the_old_one_and_huge_ones_are_not_kept() -> None:
    cache = ResponseCache(max_bytes=4 * SIZE)
    cache.put("a", ANSWER)
    cache.put("a", OTHER)
    assert cache.get("a") == OTHER
    assert cache.size == SIZE
    cache.put("huge", b"x" * 4 * SIZE)
    assert cache.get("huge") is None and len(cache) == 1


def test_a_zero_budget_keeps_nothing() -> None:
    cache = ResponseCache(max_bytes=0)
    cache.put("a", ANSWER)
    assert cache.get("a") is None and cache.size == 0


def _facts(weights: int) -> ModelFacts:
    return ModelFacts("acme/m", "a" * 40, "text-generation", None, None, weights)


def test_status_states() -> None:
    key = ModelKey("acme/m", Path("snapshots") / ("a" * 40), "text-generation", 10)
    other_commit = ModelKey("acme/m", Path("snapshots") / ("b" * 40), "text-generation", 10)
    loaded = model_status(_facts(10), loaded=[key], max_model_bytes=100)
    assert (loaded.loaded, loaded.state, loaded.framework) == (True, "Loaded", "transformers")
    assert model_status(_facts(10), loaded=[other_commit], max_model_bytes=100).state == "Loadable"
    assert model_status(_facts(1000), loaded=[], max_model_bytes=100).state == "TooBig"
