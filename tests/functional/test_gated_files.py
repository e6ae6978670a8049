"""A gated repo's file contents reach only those granted access, by every route that shows
them (its info, card and file list stay public, as on HF)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from webpages import api_commit, api_create

from hugbox.auth import service as auth
from hugbox.auth.models import TokenRole
from hugbox.db import Database
from hugbox.settings import Settings

SECRET = b"the weights nobody may read without access\n"


@pytest.fixture
def gated(client: TestClient, token: str) -> str:
    api_create(client, token, "gated")
    api_commit(client, token, "alice/gated", {"README.md": b"# Card\n", "w.txt": SECRET})
    settings = client.put(
        "/api/models/alice/gated/settings",
        json={"gated": "manual"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert settings.status_code == 200, settings.text
    return "alice/gated"


@pytest.fixture
def stranger(settings: Settings, token: str) -> dict[str, str]:
    """The headers of a user who has not been granted access."""
    database = Database(settings.sqlalchemy_url)
    with database.session() as session:
        auth.create_user(session, name="gina", password="pw")
        plain = auth.create_token(session, user="gina", name="t", role=TokenRole.WRITE)
    database.close()
    return {"authorization": f"Bearer {plain}"}


def test_files_need_access(client: TestClient, gated: str, stranger: dict[str, str]) -> None:
    assert client.get(f"/api/models/{gated}", headers=stranger).status_code == 200
    refused = client.get(f"/{gated}/resolve/main/w.txt", headers=stranger)
    assert refused.status_code == 403 and refused.headers["x-error-code"] == "GatedRepo"


def test_the_commit_page_shows_no_diff_without_access(
    client: TestClient, gated: str, stranger: dict[str, str]
) -> None:
    sha = client.get(f"/api/models/{gated}", headers=stranger).json()["sha"]
    page = client.get(f"/{gated}/commit/{sha}", headers=stranger)
    assert SECRET.decode().strip() not in page.text


def test_duplicating_needs_access_to_the_files(
    client: TestClient, gated: str, stranger: dict[str, str]
) -> None:
    copy = client.post(
        f"/api/models/{gated}/duplicate", json={"repository": "gina/copy"}, headers=stranger
    )
    assert copy.status_code == 403 and copy.headers["x-error-code"] == "GatedRepo"
