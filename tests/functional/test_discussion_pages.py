"""Community pages (list, new discussion, a PR with its diff, comment, merge, close) and the
repo events each discussion action records, in process."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from webpages import api_commit, api_create, join, login, post_form

from hugbox.db import Database
from hugbox.events.models import RepoEvent
from hugbox.settings import Settings


def _events(settings: Settings) -> list[tuple[str, dict[str, object]]]:
    database = Database(settings.sqlalchemy_url)
    with database.session() as session:
        rows = session.scalars(select(RepoEvent).order_by(RepoEvent.id)).all()
        found = [(r.kind, dict(r.data)) for r in rows if r.kind.startswith("discussion.")]
    database.close()
    return found


def test_a_pull_request_from_the_edit_page(
    client: TestClient, token: str, settings: Settings
) -> None:
    api_create(client, token, "card")
    api_commit(client, token, "alice/card", {"README.md": b"# Card\n"})
    join(client, "bob", "bob-password")  # bob may read alice's repo, not write it
    editor = client.get("/alice/card/edit/main/README.md").text
    assert "Open a pull request" in editor and 'value="0" checked' not in editor
    opened = post_form(client, "/alice/card/edit/main/README.md", content="# Better card\n",
                       message="Improve the card", description="see *why*")  # fmt: skip
    assert opened.status_code == 303 and opened.headers["location"] == "/alice/card/discussions/1"
    page = client.get("/alice/card/discussions/1").text
    assert "Improve the card" in page and "<em>why</em>" in page
    assert '<span class="add">+# Better card</span>' in page and 'id="merge"' not in page
    hostile = "<script>x</script>\n\nhi"
    said = post_form(client, "/alice/card/discussions/1/comment", comment=hostile)
    assert said.status_code == 303
    page = client.get("/alice/card/discussions/1").text
    assert "<p>hi</p>" in page and "<script>x" not in page
    assert post_form(client, "/alice/card/discussions/1/merge").status_code == 403
    client.cookies.clear()
    login(client, "alice", "pw")
    assert 'id="merge"' in client.get("/alice/card/discussions/1").text
    assert post_form(client, "/alice/card/discussions/1/merge").status_code == 303
    assert "merged" in client.get("/alice/card/discussions/1").text
    assert client.get("/alice/card/resolve/main/README.md").text == "# Better card\n"
    listing = client.get("/alice/card/discussions?status=closed").text
    assert "Improve the card" in listing and "status-merged" in listing
    kinds = [(kind, data.get("num"), data.get("status")) for kind, data in _events(settings)]
    assert kinds == [
        ("discussion.created", 1, "open"),
        ("discussion.commented", 1, "open"),
        ("discussion.updated", 1, "merged"),
    ]
    created, commented, merged = (data for _, data in _events(settings))
    assert created["is_pull_request"] is True and created["author"] == "bob"
    assert commented["comment"]["author"] == "bob"  # type: ignore[index]
    assert merged["changes"] == {"status": ["open", "merged"]} and merged["merge_commit"]


def test_new_discussion_close_and_reopen(client: TestClient, token: str) -> None:
    api_create(client, token, "talk")
    anonymous = client.get("/alice/talk/discussions")
    assert anonymous.status_code == 200 and "New discussion" not in anonymous.text
    login(client, "alice", "pw")
    made = post_form(client, "/alice/talk/discussions/new", title="A question", description="?")
    assert made.headers["location"] == "/alice/talk/discussions/1"
    assert 'id="close"' in client.get("/alice/talk/discussions/1").text
    post_form(client, "/alice/talk/discussions/1/status", status="closed")
    assert 'id="reopen"' in client.get("/alice/talk/discussions/1").text
    assert "A question" not in client.get("/alice/talk/discussions").text  # open ones only
    assert "A question" in client.get("/alice/talk/discussions?status=all").text
    assert client.get("/alice/talk/discussions/2").status_code == 404
    assert client.get("/alice/talk/discussions?status=nope").status_code in (400, 422)
    forged = client.post("/alice/talk/discussions/1/comment", data={"comment": "x"})
    assert forged.status_code in (400, 403)
    client.cookies.clear()
    page = client.get("/alice/talk/discussions/1").text
    assert "Log in</a> to comment" in page and 'id="reopen"' not in page
    assert client.get("/alice/talk/discussions/new").status_code == 401


def test_dataset_and_space_discussions_have_their_pages(client: TestClient, token: str) -> None:
    auth = {"authorization": f"Bearer {token}"}
    api_create(client, token, "data", type="dataset")
    api_create(client, token, "app", type="space", sdk="static")
    for plural in ("datasets", "spaces"):
        made = client.post(f"/api/{plural}/alice/{'data' if plural == 'datasets' else 'app'}"
                           "/discussions", json={"title": "Hello there"}, headers=auth)  # fmt: skip
        assert made.status_code == 200, made.text
        name = "data" if plural == "datasets" else "app"
        assert made.json()["url"].endswith(f"/{plural}/alice/{name}/discussions/1")
        page = client.get(f"/{plural}/alice/{name}/discussions/1")
        assert page.status_code == 200 and "Hello there" in page.text
        assert "Hello there" in client.get(f"/{plural}/alice/{name}/discussions").text
