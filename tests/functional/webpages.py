"""Helpers for functional tests: make a user's token, read the CSRF token, log in through the
form, commit files."""

from __future__ import annotations

import base64
import json
import re

import httpx
from fastapi.testclient import TestClient

from hugbox.auth import service as auth
from hugbox.auth.models import TokenRole
from hugbox.db import Database

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def new_token(database_url: str, user: str, role: TokenRole = TokenRole.WRITE) -> str:
    """A token of `role` for `user`, created (password "pw") if the hub lacks them."""
    database = Database(database_url)
    try:
        with database.session() as session:
            if auth.find_account(session, user) is None:
                auth.create_user(session, name=user, password="pw")
            return auth.create_token(session, user=user, name="t", role=role)
    finally:
        database.close()


def csrf(client: TestClient, path: str = "/") -> str:
    match = _CSRF.search(client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match[1]


def login(client: TestClient, user: str, password: str) -> httpx.Response:
    form = {"csrf_token": csrf(client, "/login"), "username": user, "password": password}
    response = client.post("/login", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response


def post_form(client: TestClient, path: str, **fields: str) -> httpx.Response:
    data = {"csrf_token": csrf(client), **fields}
    return client.post(path, data=data, follow_redirects=False)


def api_commit(client: TestClient, token: str, repo_id: str, files: dict[str, bytes]) -> str:
    """Commit files through the JSON API (as huggingface_hub does); returns the commit id."""
    lines = [{"key": "header", "value": {"summary": "add files", "description": ""}}]
    for path, data in files.items():
        encoded = base64.b64encode(data).decode()
        lines.append({"key": "file", "value": {"path": path, "content": encoded,
                                               "encoding": "base64"}})  # fmt: skip
    body = "\n".join(json.dumps(line) for line in lines)
    response = client.post(
        f"/api/models/{repo_id}/commit/main",
        content=body,
        headers={"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["commitOid"])


def api_create(client: TestClient, token: str, name: str, **body: object) -> None:
    response = client.post(
        "/api/repos/create",
        json={"name": name, **body},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text


def join(client: TestClient, user: str, password: str) -> None:
    form = {"csrf_token": csrf(client, "/join"), "username": user, "password": password}
    response = client.post("/join", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
