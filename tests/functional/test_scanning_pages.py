"""Scan verdicts on pages (badges, a pickle's imports, the unsafe banner) and the repo setting
that lets the Inference API load weights found unsafe: only the repo's writers may change it."""

from __future__ import annotations

import os
import pickle
import time

from fastapi.testclient import TestClient
from webpages import api_commit, api_create, join, login, post_form

from hugbox.settings import Settings


class RunsAShell:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo owned",))


def evil_repo(client: TestClient, token: str) -> str:
    api_create(client, token, "evil")
    api_commit(client, token, "alice/evil", {"config.json": b"{}",
                                             "model.pkl": pickle.dumps(RunsAShell())})  # fmt: skip
    headers = {"authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 20
    while not client.get("/api/models/alice/evil/scan", headers=headers).json()["scansDone"]:
        assert time.monotonic() < deadline, "the scan did not run"
        time.sleep(0.1)
    return "alice/evil"


def test_pages_show_the_verdict(client: TestClient, token: str) -> None:
    evil_repo(client, token)
    login(client, "alice", "pw")
    tree = client.get("/alice/evil/tree/main").text
    assert 'class="badge scan-unsafe"' in tree
    blob = client.get("/alice/evil/blob/main/model.pkl").text
    assert "Detected Pickle imports (1)" in blob
    assert "<code>posix.system</code> <strong>dangerous</strong>" in blob
    assert 'id="security-banner"' in client.get("/alice/evil").text
    assert "security-banner" not in client.get("/alice/evil/tree/main").text


def _infer(client: TestClient, token: str) -> str | None:
    response = client.post(
        "/models/alice/evil", json={"inputs": "hi"}, headers={"authorization": f"Bearer {token}"}
    )
    return response.headers.get("x-error-code")


def test_only_writers_may_let_inference_load_unsafe_weights(
    client: TestClient, token: str, settings: Settings
) -> None:
    evil_repo(client, token)
    assert _infer(client, token) == "UnsafeWeights"
    join(client, "mallory", "pw-mallory-long")
    refused = post_form(client, "/alice/evil/settings/security", allow_unsafe="on")
    assert refused.status_code in (403, 404)
    assert _infer(client, token) == "UnsafeWeights"
    client.cookies.clear()
    login(client, "alice", "pw")
    assert 'name="allow_unsafe"' in client.get("/alice/evil/settings").text
    saved = post_form(client, "/alice/evil/settings/security", allow_unsafe="on")
    assert saved.status_code == 303
    assert _infer(client, token) != "UnsafeWeights"  # on to loading (no real model here)
    post_form(client, "/alice/evil/settings/security")  # unchecked: refused again, once the
    time.sleep(settings.inference_access_ttl + 0.1)  # caller's remembered access has expired
    assert _infer(client, token) == "UnsafeWeights"


def test_secrets_are_listed_to_writers_and_leaked_tokens_audited(
    client: TestClient, token: str, settings: Settings
) -> None:
    from hugbox.auth import service as auth
    from hugbox.auth.models import TokenRole
    from hugbox.db import Database

    database = Database(settings.sqlalchemy_url)
    with database.session() as session:
        auth.create_user(session, name="root", password="pw-root", is_admin=True)
        root = auth.create_token(session, user="root", name="t", role=TokenRole.READ)
        leaked = auth.create_token(session, user="alice", name="notebook", role=TokenRole.WRITE)
    database.close()
    api_create(client, token, "app")
    api_commit(client, token, "alice/app", {"deploy.sh": b"export AWS=AKIAIOSFODNN7EXAMPLE\n",
                                            "notes.md": f"token: {leaked}\n".encode()})  # fmt: skip
    headers = {"authorization": f"Bearer {root}"}
    deadline = time.monotonic() + 20
    while client.get("/api/whoami-v2", headers={"authorization": f"Bearer {leaked}"}).is_success:
        assert time.monotonic() < deadline, "the leaked token was not revoked"
        time.sleep(0.1)
    [entry] = client.get("/api/admin/audit-log?action=token.leaked", headers=headers).json()
    assert entry["namespace"] == "alice" and entry["data"]["found_in"] == "alice/app/notes.md"
    login(client, "alice", "pw")
    notes = client.get("/notifications").text
    assert "published in alice/app/notes.md (line 1)" in notes and "has been revoked" in notes
    findings = client.get("/alice/app/settings").text
    assert "<code>deploy.sh</code> line 1: AWS Access Key" in findings
    assert "<code>notes.md</code> line 1: Hub token" in findings
    client.cookies.clear()
    assert "AWS Access Key" not in client.get("/alice/app").text
