"""The audit log: entries for sign-ins, tokens, members, repo settings, moves and deletions,
read by an org's admins and site admins only, filtered, exported, and never changed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from webpages import api_create, csrf, login, post_form

from hugbox.auth import service as auth
from hugbox.auth.models import TokenRole
from hugbox.db import Database
from hugbox.settings import Settings


@pytest.fixture
def tokens(settings: Settings, token: str) -> Iterator[dict[str, str]]:
    """alice (token fixture) administers `acme`; bob is a plain user, root a site admin."""
    database = Database(settings.sqlalchemy_url)
    with database.session() as session:
        auth.create_user(session, name="bob", password="pw-bob")
        auth.create_user(session, name="root", password="pw-root", is_admin=True)
        auth.create_org(session, name="acme", owner="alice")
        plain = {
            "bob": auth.create_token(session, user="bob", name="t", role=TokenRole.WRITE),
            "root": auth.create_token(session, user="root", name="t", role=TokenRole.WRITE),
        }
    database.close()
    yield {"alice": token, **plain}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def org_log(client: TestClient, token: str, **params: str) -> list[dict[str, object]]:
    response = client.get("/api/organizations/acme/audit-log", params=params,
                          headers=bearer(token))  # fmt: skip
    assert response.status_code == 200, response.text
    return list(response.json())


def make_history(client: TestClient, tokens: dict[str, str]) -> None:
    login(client, "alice", "pw")
    assert (
        post_form(client, "/organizations/acme/members", user="bob", role="read").status_code == 303
    )
    api_create(client, tokens["alice"], "weights", organization="acme")
    settings = client.put("/api/models/acme/weights/settings", json={"private": True},
                          headers=bearer(tokens["alice"]))  # fmt: skip
    assert settings.status_code == 200
    moved = client.post("/api/repos/move", json={"fromRepo": "acme/weights", "toRepo":
                        "acme/weights2"}, headers=bearer(tokens["alice"]))  # fmt: skip
    assert moved.status_code == 200
    deleted = client.request("DELETE", "/api/repos/delete", json={"name": "weights2",
                             "organization": "acme"}, headers=bearer(tokens["alice"]))  # fmt: skip
    assert deleted.status_code == 200


def test_org_admins_read_what_happened_in_their_org(
    client: TestClient, tokens: dict[str, str]
) -> None:
    make_history(client, tokens)
    entries = org_log(client, tokens["alice"])
    assert [e["action"] for e in entries] == [
        "repo.delete", "repo.move", "repo.settings", "org.member_add"
    ]  # fmt: skip
    assert {e["actor"] for e in entries} == {"alice"}
    assert {e["ip"] for e in entries} == {"testclient"}
    assert entries[2]["data"] == {"private": [False, True]}
    assert entries[2]["repo"] == {"type": "model", "id": "acme/weights"}
    assert entries[3]["data"] == {"member": "bob", "role": [None, "read"]}
    assert str(entries[0]["createdAt"]).endswith("Z")
    only = org_log(client, tokens["alice"], action="repo.move")
    assert [e["data"] for e in only] == [{"old_id": "acme/weights", "new_id": "acme/weights2"}]
    assert org_log(client, tokens["alice"], since="2999-01-01") == []
    assert len(org_log(client, tokens["alice"], actor="alice", until="2999-01-01")) == 4
    bad = client.get("/api/organizations/acme/audit-log?since=yesterday",
                     headers=bearer(tokens["alice"]))  # fmt: skip
    assert bad.status_code == 400 and "ISO 8601" in bad.headers["x-error-message"]


def test_pages_of_entries_and_the_export(client: TestClient, tokens: dict[str, str]) -> None:
    make_history(client, tokens)
    first = client.get("/api/organizations/acme/audit-log?limit=3", headers=bearer(tokens["alice"]))
    assert len(first.json()) == 3
    rest = client.get(first.links["next"]["url"], headers=bearer(tokens["alice"]))
    assert [e["action"] for e in rest.json()] == ["org.member_add"]
    export = client.get("/api/organizations/acme/audit-log/export", headers=bearer(tokens["alice"]))
    assert export.headers["content-type"] == "application/x-ndjson"
    assert "acme-audit-log.jsonl" in export.headers["content-disposition"]
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert [e["action"] for e in lines] == ["org.member_add", "repo.settings", "repo.move",
                                            "repo.delete"]  # fmt: skip
    page = client.get("/organizations/acme/settings/audit-log")  # alice's browser session
    assert page.status_code == 200 and 'id="audit-entries"' in page.text
    assert page.text.count("<code>repo.") == 3
    download = client.get("/organizations/acme/settings/audit-log.jsonl?action=repo.delete")
    assert [json.loads(line)["action"] for line in download.text.splitlines()] == ["repo.delete"]


def test_others_cannot_read_an_orgs_log(client: TestClient, tokens: dict[str, str]) -> None:
    make_history(client, tokens)
    for headers in ({}, bearer(tokens["bob"])):  # anonymous, and a member who is no admin
        response = client.get("/api/organizations/acme/audit-log", headers=headers)
        assert response.status_code == 404
        assert "you administer" in response.headers["x-error-message"]
        export = client.get("/api/organizations/acme/audit-log/export", headers=headers)
        assert export.status_code == 404
    missing = client.get("/api/organizations/nope/audit-log", headers=bearer(tokens["alice"]))
    assert missing.status_code == 404
    site = client.get("/api/admin/audit-log", headers=bearer(tokens["alice"]))
    assert site.status_code == 403
    assert client.get("/admin/audit-log").status_code == 403  # alice's browser session


def test_site_admins_read_the_whole_hub(client: TestClient, tokens: dict[str, str]) -> None:
    make_history(client, tokens)
    client.cookies.clear()
    form = {"csrf_token": csrf(client, "/login"), "username": "bob", "password": "wrong"}
    assert client.post("/login", data=form).status_code == 401
    login(client, "bob", "pw-bob")
    created = post_form(client, "/settings/tokens", name="ci", role="read")
    assert created.status_code == 200
    entries = client.get("/api/admin/audit-log", headers=bearer(tokens["root"])).json()
    actions = [(e["action"], e["actor"], e["namespace"]) for e in entries]
    assert actions[:3] == [("token.create", "bob", "bob"), ("auth.login", "bob", "bob"),
                           ("auth.login_failed", None, "bob")]  # fmt: skip
    assert entries[0]["data"]["token"] == "ci" and entries[0]["data"]["role"] == "read"
    bobs = client.get("/api/admin/audit-log?namespace=bob", headers=bearer(tokens["root"])).json()
    assert {e["namespace"] for e in bobs} == {"bob"}
    token_id = entries[0]["data"]["token_id"]
    assert post_form(client, f"/settings/tokens/{token_id}/delete").status_code == 303
    latest = client.get("/api/admin/audit-log?limit=1", headers=bearer(tokens["root"])).json()
    assert latest[0]["action"] == "token.revoke" and latest[0]["data"]["token"] == "ci"


def test_entries_cannot_be_changed_or_deleted(
    client: TestClient, tokens: dict[str, str], settings: Settings
) -> None:
    make_history(client, tokens)
    engine = create_engine(settings.sqlalchemy_url)
    for statement in ("UPDATE audit_entries SET actor = 'mallory'", "DELETE FROM audit_entries"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    engine.dispose()
    assert len(org_log(client, tokens["alice"])) == 4


def test_malformed_and_oversized_queries_are_refused(
    client: TestClient, tokens: dict[str, str]
) -> None:
    for query in ("limit=5000", "limit=0", "before=-1", "before=abc", "until=2026-13-45"):
        response = client.get(f"/api/organizations/acme/audit-log?{query}",
                              headers=bearer(tokens["alice"]))  # fmt: skip
        assert 400 <= response.status_code < 500, query
        assert response.headers.get("x-error-message"), query
