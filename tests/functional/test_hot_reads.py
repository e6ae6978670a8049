"""model_info and `/resolve/` (the most frequent calls, read on plain rows) answer every change
of who may read at once: a revoked token, a repo made private, deleted or moved, an org member
added."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from starlette.requests import Request
from starlette.responses import JSONResponse
from webpages import api_commit, api_create

from hugbox.auth import service as auth
from hugbox.auth.models import OrgRole, TokenRole
from hugbox.db import Database
from hugbox.deps import run_read
from hugbox.events import service as events
from hugbox.jobs import service as jobs
from hugbox.loop import leave_loop
from hugbox.settings import Settings

INFO, HEAD = "/api/models/{}", "/{}/resolve/main/w.txt"


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _statuses(client: TestClient, repo_id: str, headers: dict[str, str]) -> tuple[int, int]:
    info = client.get(INFO.format(repo_id), headers=headers)
    head = client.head(HEAD.format(repo_id), headers=headers)
    return info.status_code, head.status_code


@pytest.fixture
def database(settings: Settings, client: TestClient) -> Iterator[Database]:
    database = Database(settings.sqlalchemy_url)
    yield database
    database.close()


@pytest.fixture
def repo(client: TestClient, token: str) -> str:
    api_create(client, token, "m")
    api_commit(client, token, "alice/m", {"w.txt": b"weights\n"})
    return "alice/m"


def _new_token(database: Database, user: str) -> str:
    with database.session() as session:
        if auth.find_account(session, user) is None:
            auth.create_user(session, name=user, password="pw")
        return auth.create_token(session, user=user, name="t", role=TokenRole.READ)


def test_a_revoked_token_is_refused_at_once(
    client: TestClient, database: Database, repo: str
) -> None:
    plain = _new_token(database, "alice")
    assert _statuses(client, repo, _bearer(plain)) == (200, 200)
    with database.session() as session:
        auth.revoke_token(session, plain)
    assert _statuses(client, repo, _bearer(plain)) == (401, 401)


def test_a_repo_made_private_is_hidden_at_once(
    client: TestClient, database: Database, token: str, repo: str
) -> None:
    stranger = _bearer(_new_token(database, "sam"))
    assert _statuses(client, repo, stranger) == (200, 200)
    settings = client.put(f"/api/models/{repo}/settings", json={"private": True},
                          headers=_bearer(token))  # fmt: skip
    assert settings.status_code == 200, settings.text
    assert _statuses(client, repo, stranger) == (404, 404)
    assert _statuses(client, repo, {}) == (401, 401)
    assert _statuses(client, repo, _bearer(token)) == (200, 200)


def test_a_deleted_repo_is_gone_and_a_moved_one_redirects(
    client: TestClient, token: str, repo: str
) -> None:
    moved = client.post("/api/repos/move", json={"fromRepo": repo, "toRepo": "alice/n"},
                        headers=_bearer(token))  # fmt: skip
    assert moved.status_code == 200, moved.text
    old = client.get(INFO.format(repo), headers=_bearer(token), follow_redirects=False)
    assert old.status_code in (301, 302, 307, 308)
    assert old.headers["location"].endswith("/api/models/alice/n")
    deleted = client.request("DELETE", "/api/repos/delete", json={"name": "alice/n"},
                             headers=_bearer(token))  # fmt: skip
    assert deleted.status_code == 200, deleted.text
    assert _statuses(client, "alice/n", _bearer(token)) == (404, 404)


def test_an_org_member_reads_the_org_private_repos(
    client: TestClient, database: Database, token: str
) -> None:
    with database.session() as session:
        auth.create_org(session, name="acme", owner="alice")
    api_create(client, token, "secret", organization="acme", private=True)
    api_commit(client, token, "acme/secret", {"w.txt": b"weights\n"})
    member = _bearer(_new_token(database, "mia"))
    assert _statuses(client, "acme/secret", member) == (404, 404)
    with database.session() as session:
        auth.add_member(session, org="acme", user="mia", role=OrgRole.READ)
    assert _statuses(client, "acme/secret", member) == (200, 200)


def _sent(response: Response) -> list[tuple[str, str]]:
    """The headers as sent, but for those that name the moment (the rate limit window's seconds
    left tick between two requests)."""
    return [
        (k, re.sub(r";t=\d+", "", v) if k == "ratelimit" else v)
        for k, v in response.headers.multi_items()
        if k not in ("x-request-id", "date")
    ]


def test_an_lfs_file_s_head_sends_its_get_s_headers(
    client: TestClient, token: str, repo: str
) -> None:
    """The HEAD of a stored LFS file is answered without FileResponse: same headers, same order."""
    api_commit(client, token, repo, {"w.bin": b"\0" * 3000})
    url = f"/{repo}/resolve/main/w.bin"
    head = client.head(url, headers=_bearer(token))
    get = client.get(url, headers=_bearer(token))
    assert head.headers["x-linked-size"] == "3000"
    assert _sent(head) == _sent(get)


def test_a_git_stored_file_s_head_sends_its_get_s_headers(
    client: TestClient, token: str, repo: str
) -> None:
    """The HEAD of a file kept in git is answered from its size, without reading it."""
    api_commit(client, token, repo, {"notes.txt": b"n" * 300_000})
    url = f"/{repo}/resolve/main/notes.txt"
    head = client.head(url, headers=_bearer(token))
    get = client.get(url, headers=_bearer(token))
    assert head.status_code == get.status_code == 200
    assert head.headers["content-length"] == "300000"
    assert "x-linked-size" not in head.headers
    assert _sent(head) == _sent(get)
    ranged = {**_bearer(token), "range": "bytes=0-9"}
    assert _sent(client.head(url, headers=ranged)) == _sent(client.get(url, headers=ranged))


def test_the_event_loop_never_waits_for_a_pooled_connection(
    client: TestClient, token: str, repo: str
) -> None:
    """On SQLite, model_info and HEAD read on the event loop, on a connection of their own: were
    they to wait for the pool there, nothing could give a connection back (30 s, then a 500)."""
    database: Database = client.app.state.database  # type: ignore[attr-defined]
    if not database.reads_on_loop:
        pytest.skip("this database's reads are done in threads")
    assert _statuses(client, repo, _bearer(token)) == (200, 200)  # legacy ids loaded, repo cached
    pool = database.engine.pool
    limit = pool.size() + pool._max_overflow  # type: ignore[attr-defined]
    held = [database.engine.connect() for _ in range(limit)]
    try:
        started = time.monotonic()
        assert _statuses(client, repo, _bearer(token)) == (200, 200)
        assert time.monotonic() - started < 5
    finally:
        for connection in held:
            connection.close()


def test_work_too_long_for_the_event_loop_moves_to_a_read_thread(client: TestClient) -> None:
    """A read that finds itself on the loop with long work ahead (a cold cache) starts again in
    a thread."""
    request = Request({"type": "http", "app": client.app, "headers": []})
    threads: list[str] = []

    def read() -> str:
        threads.append(threading.current_thread().name)
        leave_loop()
        return "read"

    assert client.portal.call(run_read, request, read) == "read"  # type: ignore[union-attr]
    on_loop = client.app.state.database.reads_on_loop  # type: ignore[attr-defined]
    assert len(threads) == (2 if on_loop else 1)
    assert threads[-1].startswith("hugbox-read")


CARD = """---
license: apache-2.0
tags: [ünïcode, "日本語"]
learning_rate: 1.0e-5
big: 12345678901234567890123
ratio: 0.1
huge: 1.5e+300
small: 2.5e-320
nested: {a: [1, 2.5, null, true], "é": "\\u2028"}
---
# card
"""


def _wait_for_event_delivery(client: TestClient, timeout: float = 30) -> None:
    database: Database = client.app.state.database  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while True:
        with database.session() as session:
            if not jobs.pending(session, kind=events.DELIVER_JOB, key="all"):
                return
        assert time.monotonic() < deadline, "repo events still undelivered"
        time.sleep(0.05)


def test_model_info_sends_the_bytes_fastapi_would(
    client: TestClient, token: str, repo: str
) -> None:
    """model_info skips FastAPI's encoder and, without a query string, its parameter machinery:
    its bytes are still Starlette's JSONResponse of the same content, and the same with a query
    string (which takes FastAPI's path)."""
    api_commit(client, token, repo, {"README.md": CARD.encode(), "config.json": b'{"x": 1e-07}'})
    _wait_for_event_delivery(client)  # usedStorage is measured by a subscriber of the commit
    plain = client.get(INFO.format(repo), headers=_bearer(token))
    assert plain.status_code == 200, plain.text
    assert plain.json()["cardData"]["learning_rate"] == 1e-05
    assert plain.content == JSONResponse(json.loads(plain.content)).body
    validated = client.get(INFO.format(repo) + "?blobs=false", headers=_bearer(token))
    assert validated.content == plain.content
    assert _sent(validated) == _sent(plain)
