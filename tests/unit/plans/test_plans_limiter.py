"""The limiter's parts: which bucket a request counts in, the credential it carries, fixed
windows with HF's header grammar, and counters that fail open when Redis is unreachable."""

from __future__ import annotations

import base64
import logging
import re
import time
import uuid
from dataclasses import replace

import pytest
import redis

from hugbox.plans.allowance import _compute_time, is_inference
from hugbox.plans.config import load_catalog
from hugbox.plans.counters import FLUSH_S, LocalCounters, SharedCounters
from hugbox.plans.limiter import Callers, Limiter, bucket_of, token_of
from hugbox.plans.service import Limited


@pytest.mark.parametrize(
    ("method", "path", "bucket"),
    [
        ("GET", "/api/models/a/b", "api"),
        ("POST", "/api/models/a/b/commit/main", "api"),
        ("GET", "/a/b/resolve/main/config.json", "resolvers"),
        ("HEAD", "/datasets/a/b/resolve/main/x.parquet", "resolvers"),
        ("GET", "/api/lfs/objects/" + "0" * 64, "resolvers"),
        ("PUT", "/api/lfs/objects/" + "0" * 64, "api"),
        ("GET", "/xet/1/v1/reconstructions/abc", "resolvers"),
        ("POST", "/xet/1/v1/xorbs/default/abc", "api"),
        ("POST", "/a/b.git/git-upload-pack", "api"),
        ("GET", "/a/b/info/refs", "api"),
        ("POST", "/models/a/b", "api"),
        ("POST", "/v1/chat/completions", "api"),
        ("GET", "/", "pages"),
        ("GET", "/a/b", "pages"),
        ("GET", "/a/b/tree/main", "pages"),
        ("POST", "/login", "pages"),
        ("GET", "/models", "pages"),
        ("HEAD", "/gpt2/resolve/main/config.json", "resolvers"),  # a legacy id
        ("GET", "/healthy-user/model", "pages"),
        ("GET", "/health", None),
        ("GET", "/metrics", None),
        ("GET", "/static/hub.css", None),
    ],
)
def test_each_request_counts_in_hfs_bucket(method: str, path: str, bucket: str | None) -> None:
    assert bucket_of(method, path) == bucket


def test_inference_routes_are_metered() -> None:
    for path in ("/models/a/b", "/models/a/b/pipeline/x", "/v1/embeddings", "/pipeline/t/a/b"):
        assert is_inference({"method": "POST", "path": path})
    assert not is_inference({"method": "GET", "path": "/models/a/b/info"})
    assert not is_inference({"method": "POST", "path": "/api/models/a/b"})


def test_the_credential_is_the_bearer_gits_password_or_the_session_cookie() -> None:
    basic = base64.b64encode(b"user:hf_git").decode()
    assert token_of({b"authorization": b"Bearer hf_x"}) == "hf_x"
    assert token_of({b"authorization": f"Basic {basic}".encode()}) == "hf_git"
    assert token_of({b"authorization": b"Basic %%%"}) is None
    assert token_of({b"cookie": b"a=1; hugbox_session=hf_s"}) == "hf_s"
    assert token_of({}) is None


def _limiter() -> Limiter:
    catalog = load_catalog(None)
    return Limiter(catalog, LocalCounters(), Callers(None, ttl=30), enforce=True)  # type: ignore[arg-type]


def test_a_window_counts_down_to_a_refusal_with_hfs_headers() -> None:
    limiter = _limiter()
    plan = replace(limiter.catalog.plans["free"], api=2)
    who = Limited(key="u1", plan=plan)
    counted = [limiter.count("api", who, plan) for _ in range(3)]
    assert [remaining for remaining, _ in counted] == [1, 0, -1]
    remaining, reset = counted[-1]
    state, policy = (value.decode() for _, value in limiter.headers("api", plan, remaining, reset))
    assert re.fullmatch(r'"api";r=0;t=\d+', state) and 1 <= reset <= 300
    assert policy == '"fixed window";"api";q=2;w=300'
    assert limiter.count("api", Limited(key="u2", plan=plan), plan)[0] == 1  # its own count
    assert limiter.used("api", "u1") == 3
    assert "quota of 2 api requests per 5 minutes" in limiter.message("api", plan)


def test_limits_off_send_the_full_quota_and_count_nothing() -> None:
    limiter = _limiter()
    plan = limiter.catalog.anonymous
    assert limiter.count("api", None, plan)[0] == plan.api
    assert limiter.used("api", "ip127.0.0.1") == 0


def test_an_unreachable_redis_counts_in_the_process_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counters = SharedCounters("redis://127.0.0.1:1/5")  # nothing listens on port 1
    with caplog.at_level(logging.WARNING, logger="hugbox.plans.counters"):
        assert [counters.incr("k", 10) for _ in range(3)] == [1, 2, 3]
        assert counters.flush() and counters.flush()  # refused twice, still counted
        assert counters.get("k") == 3 and counters.get("other") == 0
    assert len([r for r in caplog.records if "Redis is unreachable" in r.message]) == 1


REDIS_URL = "redis://127.0.0.1:6379/5"  # the limits suite's database


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="needs Redis at 127.0.0.1:6379")
def test_replicas_learn_each_others_counts_within_a_flush() -> None:
    key = f"test/{uuid.uuid4().hex}"
    a, b = SharedCounters(REDIS_URL), SharedCounters(REDIS_URL)
    assert a.incr(key, 10) == 1 and a.incr(key, 10) == 2  # at once: no round trip
    time.sleep(FLUSH_S * 10)  # a's thread has flushed
    assert b.incr(key, 10) == 3  # new to b: read from Redis once
    assert b.incr(key, 10) == 4  # at once: a hears of it a flush later
    time.sleep(FLUSH_S * 10)
    assert a.get(key) == 4 and a.incr(key, 10) == 5
    assert 0 < redis.Redis.from_url(REDIS_URL).ttl("hugbox-limits:" + key) <= 10


def test_an_inference_answers_compute_time_is_what_it_reports() -> None:
    assert _compute_time({"headers": [(b"x-compute-time", b"0.2500")]}) == 0.25
    assert _compute_time({"headers": [(b"x-compute-time", b"soon")]}) is None
    assert _compute_time({"headers": []}) is None


def test_local_counts_end_with_their_window() -> None:
    counters = LocalCounters()
    assert [counters.incr("w", 1) for _ in range(2)] == [1, 2]
    assert counters.incr("w", 1, 5) == 7 and counters.get("w") == 7
    time.sleep(1.05)
    assert counters.get("w") == 0 and counters.incr("w", 1) == 1
