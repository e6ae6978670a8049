"""Every route that moves a ref writes its `repo.ref_moved` event, as a git push does for each
ref it creates, moves or deletes (STYLE: the code that changes a repo writes an event)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from webpages import api_commit, api_create

from hugbox.db import Database
from hugbox.events import service as events
from hugbox.events.models import RepoEvent
from hugbox.settings import Settings


def moves(settings: Settings) -> list[dict[str, Any]]:
    database = Database(settings.sqlalchemy_url)
    with database.session() as session:
        rows = session.scalars(select(RepoEvent).where(RepoEvent.kind == events.REF_MOVED))
        found = [dict(row.data) for row in rows]
    database.close()
    return found


def test_a_commit_announces_its_move(client: TestClient, token: str, settings: Settings) -> None:
    api_create(client, token, "m")
    sha = api_commit(client, token, "alice/m", {"a.txt": b"a"})
    assert [m["new"] for m in moves(settings) if m["ref"] == "refs/heads/main"] == [sha]


def test_branch_and_tag_routes_announce_their_moves(
    client: TestClient, token: str, settings: Settings
) -> None:
    api_create(client, token, "m")
    sha = api_commit(client, token, "alice/m", {"a.txt": b"a"})
    auth = {"authorization": f"Bearer {token}"}
    assert client.post("/api/models/alice/m/branch/dev", headers=auth).status_code == 200
    assert (
        client.post("/api/models/alice/m/tag/main", json={"tag": "v1"}, headers=auth).status_code
        == 200
    )
    assert client.delete("/api/models/alice/m/branch/dev", headers=auth).status_code == 200
    refs = [
        (m["ref"], m["old"], m["new"]) for m in moves(settings) if m["ref"] != "refs/heads/main"
    ]
    assert refs == [
        ("refs/heads/dev", None, sha),
        ("refs/tags/v1", None, sha),
        ("refs/heads/dev", sha, None),
    ]
