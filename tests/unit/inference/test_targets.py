"""The short memory of resolved models: per token and path, for its TTL, one resolution at once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from hugbox.inference.service import Target
from hugbox.inference.targets import TargetCache

TARGET = Target("acme/m", "a" * 40, Path("/m"), "fill-mask", False, False, 1)


class Resolver:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> Target:
        self.calls += 1
        await asyncio.sleep(0.01)
        return TARGET


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_concurrent_callers_share_one_resolution_then_hit_the_cache() -> None:
    cache, resolve = TargetCache(ttl_s=60), Resolver()
    key = cache.key("hf_x", "/models/acme/m", None)

    async def calls() -> list[Target]:
        return await asyncio.gather(*(cache.get(key, resolve) for _ in range(10)))

    assert _run(calls()) == [TARGET] * 10
    assert _run(cache.get(key, resolve)) is TARGET
    assert resolve.calls == 1


def test_entries_expire_and_tokens_never_share() -> None:
    cache, resolve = TargetCache(ttl_s=0.05), Resolver()
    alice = cache.key("hf_alice", "/models/acme/m", None)
    bob = cache.key("hf_bob", "/models/acme/m", None)
    assert alice != bob and b"hf_alice" not in alice[0]
    _run(cache.get(alice, resolve))
    _run(cache.get(bob, resolve))
    assert resolve.calls == 2
    _run(asyncio.sleep(0.06))
    _run(cache.get(alice, resolve))
    assert resolve.calls == 3


def test_a_zero_ttl_or_a_failure_keeps_nothing() -> None:
    cache, resolve = TargetCache(ttl_s=0), Resolver()
    key = cache.key(None, "/models/acme/m", "acme/m")
    _run(cache.get(key, resolve))
    _run(cache.get(key, resolve))
    assert resolve.calls == 2

    async def fail() -> Target:
        raise LookupError("no such model")

    kept = TargetCache(ttl_s=60)
    with pytest.raises(LookupError):
        _run(kept.get(key, fail))
    assert _run(kept.get(key, resolve)) is TARGET
