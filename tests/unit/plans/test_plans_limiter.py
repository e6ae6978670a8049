"""The limiter's parts: which bucket a request counts in, the credential it carries, fixed
windows with HF's header grammar, and counters that fail open when Redis is unreachable."""

from __future__ import annotations

import base64
import logging
import re
from dataclasses import replace

import pytest

from hugbox.plans.allowance import is_inference
from hugbox.plans.config import load_catalog
from hugbox.plans.counters import Counters
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


def _limiter(redis_url: str | None = None) -> Limiter:
    catalog = load_catalog(None)
    return Limiter(catalog, Counters(redis_url), Callers(None, ttl=30), enforce=True)  # type: ignore[arg-type]


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
    counters = Counters("redis://127.0.0.1:1/5")  # nothing listens on port 1
    with caplog.at_level(logging.WARNING, logger="hugbox.plans.counters"):
        assert [counters.incr("k", 10) for _ in range(3)] == [1, 2, 3]
        assert counters.get("k") == 3
    assert len([r for r in caplog.records if "Redis is unreachable" in r.message]) == 1
