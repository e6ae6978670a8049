"""Two `hugbox serve` replicas on one data dir, one secret and one Redis, as behind a load
balancer (spec/scale-out.md §6): a web session, its forms, signed URLs and the login limit hold
across them; forwarded headers are believed only from a trusted proxy; JSON logs."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import redis

from support import create_token, run_cli, running_hub

pytestmark = pytest.mark.compat

REDIS_URL = "redis://127.0.0.1:6379/1"  # db 1: this suite's; keys are unique per run
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@dataclass(frozen=True)
class Replicas:
    a: str  # trusts forwarded headers from 127.0.0.1 (where the tests connect from)
    b: str  # trusts them from another address only
    a_log: Path
    alice: str  # write token
    limited_user: str  # a user whose failed logins the limit test spends


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    data_dir = tmp_path_factory.mktemp("replicas")
    limited_user = f"dave-{uuid.uuid4().hex[:8]}"  # Redis outlives the run: a fresh name
    for user in ("alice", "bob", limited_user):
        assert run_cli(data_dir, "user", "create", user, "--password", "pw-" + user).returncode == 0
    alice = create_token(data_dir, "alice", "write")
    shared = {
        "HUGBOX_SECRET_KEY": "one-secret-every-replica-shares",
        "HUGBOX_REDIS_URL": REDIS_URL,
        "HUGBOX_SPACES_ENABLED": "false",
        "HUGBOX_LOG_FORMAT": "json",
    }
    a_log = data_dir / "a.log"
    trusting = {**shared, "HUGBOX_FORWARDED_ALLOW_IPS": "127.0.0.1"}
    distrusting = {**shared, "HUGBOX_FORWARDED_ALLOW_IPS": "192.0.2.1"}
    with (
        running_hub(data_dir, env=trusting, log_path=a_log, log_level="info") as a,
        running_hub(data_dir, env=distrusting) as b,
    ):
        yield Replicas(a=a, b=b, a_log=a_log, alice=alice, limited_user=limited_user)


def csrf(client: httpx.Client, path: str) -> str:
    match = _CSRF.search(client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match[1]


def log_in(client: httpx.Client, user: str, password: str, **headers: str) -> httpx.Response:
    form = {"csrf_token": csrf(client, "/login"), "username": user, "password": password}
    return client.post("/login", data=form, headers=headers)


def test_a_web_session_and_its_forms_hold_on_every_replica(replicas: Replicas) -> None:
    with httpx.Client(base_url=replicas.a) as on_a, httpx.Client(base_url=replicas.b) as on_b:
        assert on_b.get("/settings/tokens").status_code != 200  # not logged in there yet
        assert log_in(on_a, "bob", "pw-bob").status_code == 303
        on_b.cookies = on_a.cookies
        page = on_b.get("/settings/tokens")
        assert page.status_code == 200
        assert "bob" in page.text
        form_token = csrf(on_a, "/settings/tokens")  # a form served by A, sent to B
        created = on_b.post("/settings/tokens", data={"csrf_token": form_token, "name": "ci",
                                                      "role": "read"})  # fmt: skip
        assert created.status_code == 200, created.text
        forged = on_b.post("/settings/tokens", data={"csrf_token": "x" + form_token[1:],
                                                     "name": "ci2", "role": "read"})  # fmt: skip
        assert forged.status_code == 403


def test_signed_upload_urls_of_one_replica_are_honoured_by_the_other(replicas: Replicas) -> None:
    auth = {"authorization": f"Bearer {replicas.alice}"}
    name = f"lfs-{uuid.uuid4().hex[:8]}"
    created = httpx.post(f"{replicas.a}/api/repos/create", json={"name": name}, headers=auth)
    assert created.status_code == 200, created.text
    data = b"bytes that go to the other replica" * 100
    oid = hashlib.sha256(data).hexdigest()
    batch = httpx.post(
        f"{replicas.a}/alice/{name}.git/info/lfs/objects/batch", headers=auth,
        json={"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
              "objects": [{"oid": oid, "size": len(data)}]},
    )  # fmt: skip
    assert batch.status_code == 200, batch.text
    href = batch.json()["objects"][0]["actions"]["upload"]["href"]
    parts = urlsplit(href)
    assert f"{parts.scheme}://{parts.netloc}" == replicas.a
    on_b = urlunsplit(urlsplit(replicas.b)[:2] + parts[2:])
    tampered = on_b.replace("sig=", "sig=0", 1)
    assert tampered != on_b
    assert httpx.put(tampered, content=data).status_code in (401, 403)
    assert httpx.put(on_b, content=data).status_code == 200


@pytest.mark.skipif(not redis_up(), reason="no Redis at 127.0.0.1:6379")
def test_failed_logins_on_one_replica_count_on_the_other(replicas: Replicas) -> None:
    user = replicas.limited_user
    # A trusts the address its proxy forwards: the failures count against that address (and the
    # name), not against 127.0.0.1, from which the other tests log in.
    client_ip = f"203.0.113.{uuid.uuid4().int % 250 + 1}"
    with httpx.Client(base_url=replicas.a) as on_a:
        for _ in range(10):
            failed = log_in(on_a, user, "wrong", **{"x-forwarded-for": client_ip})
            assert failed.status_code == 401
        assert log_in(on_a, "bob", "pw-bob").status_code == 303  # 127.0.0.1 is not limited
    with httpx.Client(base_url=replicas.b) as on_b:
        limited = log_in(on_b, user, "pw-" + user)  # even the right password, on the other one
        assert limited.status_code == 429
        assert "Too many failed logins" in limited.text


def test_forwarded_proto_is_believed_only_from_a_trusted_proxy(replicas: Replicas) -> None:
    headers = {"authorization": f"Bearer {replicas.alice}", "host": "hub.example.org",
               "x-forwarded-proto": "https"}  # fmt: skip
    urls = []
    for endpoint in (replicas.a, replicas.b):
        name = f"fwd-{uuid.uuid4().hex[:8]}"
        created = httpx.post(f"{endpoint}/api/repos/create", json={"name": name}, headers=headers)
        assert created.status_code == 200, created.text
        urls.append((created.json()["url"], name))
    (trusted, a_name), (untrusted, b_name) = urls
    assert trusted == f"https://hub.example.org/alice/{a_name}"
    assert untrusted == f"http://hub.example.org/alice/{b_name}"


def test_json_logs_carry_the_access_fields(replicas: Replicas) -> None:
    auth = {"authorization": f"Bearer {replicas.alice}"}
    trace = f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"
    whoami = httpx.get(f"{replicas.a}/api/whoami-v2", headers={**auth, "x-amzn-trace-id": trace})
    assert whoami.status_code == 200
    missing = httpx.get(f"{replicas.a}/api/models/alice/no-such-repo", headers=auth)
    assert missing.status_code == 404
    # The access line is written once the response has gone: wait for the last one.
    deadline = time.monotonic() + 10
    while missing.headers["x-request-id"] not in replicas.a_log.read_text():
        assert time.monotonic() < deadline, "no access line for the 404"
        time.sleep(0.05)
    lines = [json.loads(line) for line in replicas.a_log.read_text().splitlines() if line]
    for line in lines:  # every line, the server's own included, is one JSON object
        assert {"time", "level", "logger", "message", "request_id"} <= line.keys(), line
    access = [line for line in lines if line["logger"] == "hugbox.access"]
    (mine,) = [line for line in access if line["request_id"] == trace]
    assert mine["user"] == "alice"
    assert (mine["method"], mine["route"], mine["status"]) == ("GET", "/api/whoami-v2", 200)
    assert mine["duration_ms"] > 0
    (repo_line,) = [
        line for line in access if line["request_id"] == missing.headers["x-request-id"]
    ]
    assert repo_line["repo"] == "alice/no-such-repo"
    assert repo_line["route"] == "/api/{repo_type:repotype}/{namespace}/{name}"
    assert repo_line["status"] == 404
    assert repo_line["user"] is not None
