"""What site admins see of the limiter: callers refused in this window (with the first refusal's
time and how many were refused, one replica's or every replica's through Redis) and today's top
inference callers, read from the counters the limiter and the allowance keep."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest
import redis
from builders import Builder
from sqlalchemy.orm import Session

from hugbox.plans import watch
from hugbox.plans.allowance import keys_of
from hugbox.plans.config import load_catalog
from hugbox.plans.counters import FLUSH_S, Counters, LocalCounters, SharedCounters
from hugbox.plans.limiter import Callers, Limiter
from hugbox.plans.service import Limited

REDIS_URL = "redis://127.0.0.1:6379/5"  # the limits suite's database


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _limiter(counters: Counters, window: int = 300) -> Limiter:
    catalog = replace(load_catalog(None), window=window)
    return Limiter(catalog, counters, Callers(None, ttl=1), enforce=True)  # type: ignore[arg-type]


def _refuse(limiter: Limiter, who: Limited, bucket: str, times: int) -> None:
    """What the middleware does: count each request, note each one over the quota."""
    for _ in range(who.plan.quota(bucket) + times):
        remaining, _reset = limiter.count(bucket, who, who.plan)
        if remaining < 0:
            limiter.note_refusal(bucket, who)


def test_refused_callers_of_this_window_most_refused_first() -> None:
    limiter = _limiter(LocalCounters())
    plan = replace(limiter.catalog.plans["free"], api=3, resolvers=2)
    bob, anonymous = Limited("u7", plan, "bob"), Limited("ip10.0.0.9", plan)
    started = time.time()
    _refuse(limiter, bob, "api", 2)
    _refuse(limiter, anonymous, "resolvers", 5)
    _refuse(limiter, Limited("u8", plan, "carol"), "pages", 0)  # at the quota: not refused
    found = watch.limited_now(limiter)
    assert [(r.name, r.kind, r.bucket, r.refused, r.quota) for r in found] == [
        ("10.0.0.9", "ip", "resolvers", 5, 2),
        ("bob", "user", "api", 2, 3),
    ]
    assert all(started - 1 <= r.since.timestamp() <= time.time() for r in found)


def test_a_refusal_is_forgotten_with_its_window() -> None:
    limiter = _limiter(LocalCounters(), window=1)
    plan = replace(limiter.catalog.plans["free"], api=1)
    _refuse(limiter, Limited("u7", plan, "bob"), "api", 1)
    assert [r.name for r in watch.limited_now(limiter)] == ["bob"]
    time.sleep(2.1)
    assert watch.limited_now(limiter) == []


def test_inference_today_ranks_callers_by_requests(session: Session, build: Builder) -> None:
    alice, bob = build.user("alice"), build.user("bob")
    session.flush()
    counters = LocalCounters()
    for key, requests, ms in ((f"u{alice.id}", 1, 900), (f"u{bob.id}", 3, 1500),
                              ("ip10.0.0.1", 2, 10), ("u99999", 9, 9)):  # fmt: skip
        requests_key, ms_key = keys_of(key)
        counters.incr(requests_key, 60, requests)
        counters.incr(ms_key, 60, ms)
    found = watch.inference_today(session, _limiter(counters), limit=3)
    # The deleted user (u99999) is no one's; the limit counts it among the top 3.
    assert [(u.name, u.kind, u.requests, u.seconds) for u in found] == [
        ("bob", "user", 3, 1.5), ("10.0.0.1", "ip", 2, 0.01),
    ]  # fmt: skip


@pytest.mark.skipif(not _redis_up(), reason="needs Redis at 127.0.0.1:6379")
def test_replicas_share_refusals_and_inference_through_redis() -> None:
    window = int(uuid.uuid4().int % 10_000) + 60  # a window of its own: no other run's marks
    a, b = _limiter(SharedCounters(REDIS_URL), window), _limiter(SharedCounters(REDIS_URL), window)
    plan = replace(a.catalog.plans["free"], api=2)
    who = Limited(f"u{uuid.uuid4().int % 10**9}", plan, "bob")
    _refuse(a, who, "api", 1)
    time.sleep(FLUSH_S * 10)
    _refuse(b, who, "api", 1)  # b starts from a's count (3 of 2): its 3 are all refused
    time.sleep(FLUSH_S * 10)
    seen = {(r.name, r.refused) for r in watch.limited_now(a)}
    assert seen == {("bob", 4)} == {(r.name, r.refused) for r in watch.limited_now(b)}
    key = keys_of(f"test{uuid.uuid4().hex}")[0]
    a.counters.incr(key, 60, 4)
    b.counters.incr(key, 60, 1)
    time.sleep(FLUSH_S * 10)
    assert a.counters.scan(key) == {key: 5} == b.counters.scan(key.replace("test", "t*"))
