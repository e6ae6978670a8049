"""Who may like and see likes, and see and change collections: a stranger (anonymous),
another user, a read token and org members of each rank; and malformed input, which gets a
4xx with HF's error headers, never a 500 nor another user's data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from webpages import api_create, login, post_form

from hugbox.app import create_app
from hugbox.auth import service as auth
from hugbox.auth.models import OrgRole, TokenRole
from hugbox.db import Database
from hugbox.settings import Settings

MISSING = "0123456789abcdef01234567"


@dataclass
class Tokens:
    alice: str  # owner of her repos, admin of acme
    alice_read: str
    bob: str  # a stranger to alice and acme
    carol: str  # write member of acme
    dave: str  # read member of acme


@pytest.fixture
def tokens(settings: Settings) -> Tokens:
    database = Database(settings.sqlalchemy_url)
    with database.session() as session:
        for name in ("alice", "bob", "carol", "dave"):
            auth.create_user(session, name=name, password="pw-" + name)
        auth.create_org(session, name="acme", owner="alice")
        auth.add_member(session, org="acme", user="carol", role=OrgRole.WRITE)
        auth.add_member(session, org="acme", user="dave", role=OrgRole.READ)
        made = {n: auth.create_token(session, user=n, name="t", role=TokenRole.WRITE)
                for n in ("alice", "bob", "carol", "dave")}  # fmt: skip
        made["alice_read"] = auth.create_token(session, user="alice", name="r", role=TokenRole.READ)
    database.close()
    return Tokens(**made)


@pytest.fixture
def hub(settings: Settings, tokens: Tokens) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        api_create(client, tokens.alice, "public")
        api_create(client, tokens.alice, "secret", private=True)
        api_create(client, tokens.alice, "internal", organization="acme", private=True)
        yield client


def call(
    hub: TestClient, method: str, path: str, token: str | None = None, **kw: Any
) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return hub.request(method, path, headers=headers, **kw)


def refused(answer: httpx.Response, status: int, code: str | None = None) -> None:
    assert answer.status_code == status, (answer.status_code, answer.text)
    assert answer.headers.get("x-error-message"), answer.headers
    if code is not None:
        assert answer.headers.get("x-error-code") == code


# ---- likes


def test_who_may_like(hub: TestClient, tokens: Tokens) -> None:
    refused(call(hub, "POST", "/api/models/alice/public/like"), 401)
    refused(call(hub, "POST", "/api/models/alice/public/like", tokens.alice_read), 403)
    refused(call(hub, "DELETE", "/api/models/alice/public/like", tokens.alice_read), 403)
    refused(call(hub, "POST", "/api/models/alice/secret/like", tokens.bob), 404, "RepoNotFound")
    refused(call(hub, "POST", "/api/models/alice/nothing/like", tokens.bob), 404, "RepoNotFound")
    refused(call(hub, "POST", "/api/models/nothing/like", tokens.bob), 404, "RepoNotFound")
    refused(call(hub, "DELETE", "/api/spaces/alice/public/like", tokens.bob), 404, "RepoNotFound")
    assert call(hub, "POST", "/api/models/alice/public/like", tokens.bob).status_code == 200
    assert call(hub, "POST", "/api/models/acme/internal/like", tokens.dave).status_code == 200
    assert call(hub, "POST", "/api/models/alice/secret/like", tokens.alice).status_code == 200


def test_likes_of_a_private_repo_are_seen_by_its_readers_only(
    hub: TestClient, tokens: Tokens
) -> None:
    call(hub, "POST", "/api/models/acme/internal/like", tokens.dave)
    call(hub, "POST", "/api/models/alice/public/like", tokens.dave)
    refused(call(hub, "GET", "/api/models/acme/internal/likers"), 401, "RepoNotFound")
    refused(call(hub, "GET", "/api/models/acme/internal/likers", tokens.bob), 404, "RepoNotFound")
    assert [
        u["user"] for u in call(hub, "GET", "/api/models/acme/internal/likers", tokens.carol).json()
    ] == ["dave"]
    seen = {
        who: [
            like["repo"]["name"] for like in call(hub, "GET", "/api/users/dave/likes", token).json()
        ]
        for who, token in (("anonymous", None), ("bob", tokens.bob), ("carol", tokens.carol))
    }
    assert seen == {"anonymous": ["alice/public"], "bob": ["alice/public"],
                    "carol": ["alice/public", "acme/internal"]}  # fmt: skip
    info = call(hub, "GET", "/api/models/acme/internal", tokens.carol).json()
    assert info["likes"] == 1


def test_malformed_like_requests(hub: TestClient, tokens: Tokens) -> None:
    refused(call(hub, "GET", "/api/users/nobody/likes"), 404)
    refused(call(hub, "GET", "/api/users/acme/likes"), 404)  # an org likes nothing
    refused(call(hub, "GET", "/api/users/alice/likes", params={"cursor": "%%%"}), 400)
    refused(call(hub, "GET", "/api/models/alice/public/likers", params={"cursor": "bad!"}), 400)
    refused(call(hub, "GET", "/api/models/alice/public/likers", params={"limit": "x" * 50}), 400)


# ---- collections


def create(hub: TestClient, token: str, title: str, **body: Any) -> dict[str, Any]:
    answer = call(hub, "POST", "/api/collections", token, json={"title": title, **body})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_who_may_create_collections(hub: TestClient, tokens: Tokens) -> None:
    body = {"title": "Mine", "namespace": "acme"}
    refused(call(hub, "POST", "/api/collections", json=body), 401)
    refused(call(hub, "POST", "/api/collections", tokens.alice_read, json=body), 403)
    refused(call(hub, "POST", "/api/collections", tokens.bob, json=body), 403)
    refused(call(hub, "POST", "/api/collections", tokens.dave, json=body), 403)
    refused(
        call(hub, "POST", "/api/collections", tokens.bob, json={**body, "namespace": "nobody"}), 404
    )
    assert create(hub, tokens.carol, "Mine", namespace="acme")["owner"]["name"] == "acme"
    assert create(hub, tokens.bob, "Mine")["owner"] == {
        "name": "bob", "fullname": "bob", "type": "user",
        "avatarUrl": "http://testserver/avatars/bob.svg",
    }  # fmt: skip


def test_who_may_see_and_change_a_private_org_collection(hub: TestClient, tokens: Tokens) -> None:
    slug = create(hub, tokens.alice, "Internal", namespace="acme", private=True)["slug"]
    path = f"/api/collections/{slug}"
    refused(call(hub, "GET", path), 404)
    refused(call(hub, "GET", path, tokens.bob), 404)
    assert call(hub, "GET", path, tokens.dave).status_code == 200  # any member reads it
    change = {"description": "changed"}
    refused(call(hub, "PATCH", path, json=change), 401)
    refused(call(hub, "PATCH", path, tokens.bob, json=change), 404)
    refused(call(hub, "PATCH", path, tokens.dave, json=change), 403)
    refused(call(hub, "PATCH", path, tokens.alice_read, json=change), 403)
    refused(call(hub, "DELETE", path, tokens.dave), 403)
    item = {"item": {"type": "model", "id": "alice/public"}}
    refused(call(hub, "POST", path + "/items", tokens.dave, json=item), 403)
    assert (
        call(hub, "PATCH", path, tokens.carol, json=change).json()["data"]["description"]
        == "changed"
    )
    assert call(hub, "POST", path + "/items", tokens.carol, json=item).status_code == 200
    listed = {
        who: [c["slug"] for c in call(hub, "GET", "/api/collections?owner=acme", token).json()]
        for who, token in (("anonymous", None), ("bob", tokens.bob), ("dave", tokens.dave))
    }
    assert listed == {"anonymous": [], "bob": [], "dave": [slug]}


def test_items_the_viewer_cannot_read_are_hidden(hub: TestClient, tokens: Tokens) -> None:
    slug = create(hub, tokens.alice, "Open")["slug"]
    for repo_id in ("alice/public", "alice/secret", "acme/internal"):
        item = {"item": {"type": "model", "id": repo_id}}
        assert (
            call(hub, "POST", f"/api/collections/{slug}/items", tokens.alice, json=item).status_code
            == 200
        )
    viewers = {"anonymous": None, "bob": tokens.bob, "dave": tokens.dave, "alice": tokens.alice}
    seen = {
        who: [i["id"] for i in call(hub, "GET", f"/api/collections/{slug}", token).json()["items"]]
        for who, token in viewers.items()
    }
    assert seen == {"anonymous": ["alice/public"], "bob": ["alice/public"],
                    "dave": ["alice/public", "acme/internal"],
                    "alice": ["alice/public", "alice/secret", "acme/internal"]}  # fmt: skip
    refused(call(hub, "PATCH", f"/api/collections/{slug}", tokens.bob, json={"theme": "blue"}), 403)
    # nobody learns of a private repo by adding it to their own collection
    own = create(hub, tokens.bob, "Probe")["slug"]
    probe = {"item": {"type": "model", "id": "alice/secret"}}
    refused(call(hub, "POST", f"/api/collections/{own}/items", tokens.bob, json=probe), 404)
    found = call(hub, "GET", "/api/collections", tokens.bob, params={"item": "models/alice/secret"})
    assert found.json() == []


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status"),
    [
        ("GET", "", None, 200),
        ("PATCH", "", {"theme": "plaid"}, 400),
        ("PATCH", "", {"title": "x" * 61}, 400),
        ("PATCH", "", {"title": ""}, 400),
        ("PATCH", "", {"description": "x" * 151}, 400),
        ("PATCH", "", {"position": -1}, 400),
        ("PATCH", "", {"private": "maybe"}, 400),
        ("POST", "/items", {"item": {"type": "tractor", "id": "alice/public"}}, 400),
        (
            "POST",
            "/items",
            {"item": {"type": "model", "id": "alice/public"}, "note": "x" * 501},
            400,
        ),
        ("POST", "/items", {"item": {"type": "model"}}, 400),
        ("POST", "/items", {"item": {"type": "paper", "id": "not-a-paper"}}, 400),
        ("POST", "/items", {"item": {"type": "collection", "id": "alice/nope"}}, 404),
        ("POST", "/items", {"item": {"type": "model", "id": "a/b/c/d"}}, 404),
        ("POST", "/items", {"item": {"type": "model", "id": "x" * 301}}, 400),
        ("PATCH", "/items/zzz", {"note": "n"}, 404),
        ("PATCH", f"/items/{MISSING}", {"note": "x" * 501}, 400),
        ("DELETE", f"/items/{MISSING}", None, 404),
    ],
)
def test_malformed_collection_requests(
    hub: TestClient, tokens: Tokens, method: str, suffix: str, body: Any, status: int
) -> None:
    slug = create(hub, tokens.alice, "Target")["slug"]
    answer = call(hub, method, f"/api/collections/{slug}{suffix}", tokens.alice, json=body)
    if status == 200:
        assert answer.status_code == 200
    else:
        refused(answer, status)


def test_bad_slugs_and_bodies(hub: TestClient, tokens: Tokens) -> None:
    for slug in ("alice/no-id-here", f"alice/gone-{MISSING}", "alice/" + "a" * 250, "alice/x-12"):
        refused(call(hub, "GET", f"/api/collections/{slug}", tokens.alice), 404)
        refused(call(hub, "DELETE", f"/api/collections/{slug}", tokens.alice), 404)
    refused(call(hub, "GET", "/api/collections/alice/" + "a" * 400), 400)  # past any name
    refused(call(hub, "POST", "/api/collections", tokens.alice, content=b"{not json"), 400)
    refused(call(hub, "POST", "/api/collections", tokens.alice, json={"title": "x" * 61}), 400)
    refused(call(hub, "POST", "/api/collections", tokens.alice, json={"title": ""}), 400)
    refused(call(hub, "GET", "/api/collections", params={"sort": "sideways"}), 400)
    refused(call(hub, "GET", "/api/collections", params={"limit": 0}), 400)
    refused(call(hub, "GET", "/api/collections", params={"cursor": "???"}), 400)
    assert call(hub, "GET", "/api/collections", params={"item": "tractors/x"}).json() == []


def test_old_slugs_resolve_by_their_id(hub: TestClient, tokens: Tokens) -> None:
    created = create(hub, tokens.alice, "First name")
    object_id = created["slug"].rsplit("-", 1)[1]
    renamed = call(
        hub, "PATCH", f"/api/collections/{created['slug']}", tokens.alice, json={"title": "Second"}
    )
    assert renamed.json()["data"]["slug"] == f"alice/second-{object_id}"
    for old in (created["slug"], f"alice/anything-{object_id}", f"alice/First-{object_id.upper()}"):
        assert (
            call(hub, "GET", f"/api/collections/{old}").json()["slug"]
            == f"alice/second-{object_id}"
        )


# ---- pages


def test_pages_like_and_edit_with_csrf(hub: TestClient, tokens: Tokens) -> None:
    assert hub.post("/alice/public/like", data={"csrf_token": "forged"}).status_code == 403
    login(hub, "bob", "pw-bob")
    assert post_form(hub, "/alice/public/like").status_code == 303
    assert "♥" in hub.get("/alice/public").text
    assert call(hub, "GET", "/api/models/alice/public").json()["likes"] == 1
    assert post_form(hub, "/alice/secret/like").status_code == 404
    made = post_form(hub, "/collections/bob", title="Picks", description="mine")
    assert made.status_code == 303
    slug = made.headers["location"].removeprefix("/collections/")
    assert (
        post_form(
            hub, f"/collections/{slug}/items", type="model", id="alice/public", note="n"
        ).status_code
        == 303
    )
    page = hub.get(f"/collections/{slug}").text
    assert "alice/public" in page and "Picks" in page
    refused(post_form(hub, f"/collections/{slug}/items", type="model", id="x", note="x" * 501), 400)
    refused(post_form(hub, "/collections/bob", title="Nul\x00"), 400)
    assert post_form(hub, "/collections/acme", title="Theirs").status_code == 403
    assert hub.post(f"/collections/{slug}/delete", data={}).status_code == 403  # no CSRF token
    assert hub.get("/collections/bob").status_code == 200
    assert hub.get("/collections/nobody").status_code == 404
    assert post_form(hub, f"/collections/{slug}/delete").status_code == 303
    assert hub.get(f"/collections/{slug}").status_code == 404
