"""Two hub processes on one data dir count one rate limit through one Redis (db 5: this suite's
own, emptied first), and both show the site admin who it refused; a hub whose Redis is
unreachable keeps answering (fail open, logged)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from support import create_token, run_cli, running_hub

pytestmark = pytest.mark.compat

REDIS_URL = "redis://127.0.0.1:6379/5"
WINDOW = 60
QUOTA = 6
PLANS = f"""
window = {WINDOW}
[plans.anonymous]
api = 100
resolvers = 100
pages = 100
[plans.free]
api = {QUOTA}
resolvers = 100
pages = 100
"""


def redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ...]]:
    if not redis_up():
        pytest.skip("needs Redis at 127.0.0.1:6379 (.ci/run starts one)")
    redis.Redis.from_url(REDIS_URL).flushdb()  # counts of an earlier run of this suite
    data_dir = tmp_path_factory.mktemp("plans-redis")
    (data_dir / "plans.toml").write_text(PLANS)
    for user, admin in (("alice", []), ("root", ["--admin"])):
        created = run_cli(data_dir, "user", "create", user, "--password", "pw-x", *admin)
        assert created.returncode == 0, created.stderr
    token, root = create_token(data_dir, "alice", "write"), create_token(data_dir, "root", "read")
    env = {
        "HUGBOX_PLANS_FILE": str(data_dir / "plans.toml"),
        "HUGBOX_RATE_LIMITS": "true",
        "HUGBOX_SPACES_ENABLED": "false",
        "HUGBOX_SECRET_KEY": "one-secret-for-both",
    }
    down = {**env, "HUGBOX_REDIS_URL": "redis://127.0.0.1:1/5"}  # nothing listens there
    down_log = data_dir / "down.log"
    with (
        running_hub(data_dir, env={**env, "HUGBOX_REDIS_URL": REDIS_URL}) as a,
        running_hub(data_dir, env={**env, "HUGBOX_REDIS_URL": REDIS_URL}) as b,
        running_hub(data_dir, env=down, log_path=down_log) as unreachable,
    ):
        yield a, b, unreachable, str(down_log), token, root


def _remaining(response: httpx.Response) -> tuple[int, int]:
    state = dict(part.split("=") for part in response.headers["ratelimit"].split(";")[1:])
    return int(state["r"]), int(state["t"])


def test_two_hubs_share_one_limit_through_redis(shared: tuple[str, ...]) -> None:
    a, b, _, _, token, _ = shared
    bearer = {"authorization": f"Bearer {token}"}
    first = httpx.get(f"{a}/api/models", headers=bearer)
    if _remaining(first)[1] < 10:  # too near the window's end: start in the next one
        time.sleep(_remaining(first)[1] + 0.5)
        first = httpx.get(f"{a}/api/models", headers=bearer)
    assert first.status_code == 200 and _remaining(first)[0] == QUOTA - 1
    answers = []
    for hub in (b, a, b, a, b):
        time.sleep(0.3)  # each replica's counts reach the others within a flush (20 ms)
        answers.append(httpx.get(f"{hub}/api/models", headers=bearer))
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 200]
    assert [_remaining(r)[0] for r in answers] == [4, 3, 2, 1, 0]
    for hub in (a, b):  # the quota is spent on both, wherever it was spent
        time.sleep(0.3)
        refused = httpx.get(f"{hub}/api/models", headers=bearer)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == str(_remaining(refused)[1])


def test_an_unreachable_redis_fails_open(shared: tuple[str, ...]) -> None:
    _, _, unreachable, down_log, token, _ = shared
    bearer = {"authorization": f"Bearer {token}"}
    answers = [httpx.get(f"{unreachable}/api/models", headers=bearer) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert all("ratelimit" in r.headers for r in answers)  # counted in the process meanwhile
    deadline = time.monotonic() + 10  # the warning comes from the background flush
    while "Redis is unreachable" not in Path(down_log).read_text():
        assert time.monotonic() < deadline, "no warning logged"
        time.sleep(0.1)


def test_both_hubs_show_the_site_admin_who_is_rate_limited(shared: tuple[str, ...]) -> None:
    """Each hub refuses alice at least once; each hub's admin view shows every refusal."""
    a, b, _, _, token, root = shared
    bearer = {"authorization": f"Bearer {token}"}
    if _remaining(httpx.get(f"{a}/api/models", headers=bearer))[1] < 15:
        time.sleep(15)  # too near the window's end: the next one
    refused = {a: 0, b: 0}
    for hub in (a, b) * (QUOTA + 1):
        time.sleep(0.1)
        refused[hub] += httpx.get(f"{hub}/api/models", headers=bearer).status_code == 429
    assert refused[a] and refused[b]
    time.sleep(0.5)  # each replica's counts reach Redis within a flush
    admin = {"authorization": f"Bearer {root}"}
    views = [httpx.get(f"{hub}/api/admin/usage", headers=admin).json() for hub in (a, b)]
    seen = [[(r["name"], r["bucket"], r["refused"]) for r in v["rateLimited"]] for v in views]
    assert seen[0] == seen[1] and seen[0][0][:2] == ("alice", "api")
    assert seen[0][0][2] >= refused[a] + refused[b]  # the earlier test's refusals may count too
