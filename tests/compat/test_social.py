"""Likes and collections through stock huggingface_hub against a live hub: every call of
spec/community-plans.md §3.1-3.2 (like, unlike, likers, a user's likes, the `likes` count and
sort; create, get, update, delete and list collections, add, update and remove items)."""

from __future__ import annotations

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from support import Hub, unique

pytestmark = pytest.mark.compat


def like(hub: Hub, token: str, repo_id: str, repo_type: str = "model") -> httpx.Response:
    """The web UI's like (huggingface_hub 2.4 has no `like()`: liking is not for scripts)."""
    url = f"{hub.endpoint}/api/{repo_type}s/{repo_id}/like"
    return httpx.post(url, headers={"authorization": f"Bearer {token}"})


@pytest.fixture
def alice(hub: Hub) -> HfApi:
    return HfApi(endpoint=hub.endpoint, token=hub.alice)


@pytest.fixture
def bob(hub: Hub) -> HfApi:
    return HfApi(endpoint=hub.endpoint, token=hub.bob)


def test_like_unlike_likers_and_a_users_likes(hub: Hub, alice: HfApi, bob: HfApi) -> None:
    model = alice.create_repo(f"alice/{unique('liked')}").repo_id
    dataset = alice.create_repo(f"alice/{unique('liked')}", repo_type="dataset").repo_id
    for _ in range(2):  # liking twice is one like
        answer = like(hub, hub.bob, model)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"likes": 1, "isLikedByUser": True}
    assert like(hub, hub.bob, dataset, "dataset").status_code == 200
    assert like(hub, hub.carol, model).json()["likes"] == 2
    assert alice.model_info(model).likes == 2
    assert alice.model_info(model, expand=["likes"]).likes == 2
    assert alice.dataset_info(dataset).likes == 1
    assert sorted(u.username for u in alice.list_repo_likers(model)) == ["bob", "carol"]
    assert [u.username for u in alice.list_repo_likers(dataset, repo_type="dataset")] == ["bob"]
    liked = bob.list_liked_repos()
    assert liked.user == "bob" and model in liked.models and dataset in liked.datasets
    assert liked.total == len(liked.models) + len(liked.datasets) + len(liked.spaces)
    bob.unlike(model)
    bob.unlike(model)  # unliking what one does not like is no error
    assert alice.model_info(model).likes == 1
    assert model not in bob.list_liked_repos().models
    assert model in HfApi(endpoint=hub.endpoint).list_liked_repos("carol").models


def test_unlike_a_missing_repo_is_repo_not_found(bob: HfApi) -> None:
    for repo_id in ("missing_repo_id", f"alice/{unique('missing')}"):
        with pytest.raises(RepositoryNotFoundError):
            bob.unlike(repo_id)


def test_most_liked_first(hub: Hub, alice: HfApi) -> None:
    author = "acme"
    names = [alice.create_repo(f"{author}/{unique('sorted')}").repo_id for _ in range(3)]
    for token in (hub.alice, hub.bob, hub.carol):
        assert like(hub, token, names[1]).status_code == 200
    assert like(hub, hub.alice, names[2]).status_code == 200
    ranked = [m.id for m in alice.list_models(author=author, sort="likes") if m.id in names]
    assert ranked == [names[1], names[2], names[0]]
    page = httpx.get(f"{hub.endpoint}/models", params={"sort": "likes", "author": author})
    assert page.status_code == 200
    assert page.text.index(names[1]) < page.text.index(names[2]) < page.text.index(names[0])


def test_likers_and_likes_are_paginated(hub: Hub, alice: HfApi) -> None:
    model = alice.create_repo(f"alice/{unique('paged')}").repo_id
    for token in (hub.alice, hub.bob, hub.carol):
        like(hub, token, model)
    first = httpx.get(f"{hub.endpoint}/api/models/{model}/likers", params={"limit": 2})
    assert len(first.json()) == 2 and first.links["next"]["url"]
    rest = httpx.get(first.links["next"]["url"])
    assert len(rest.json()) == 1 and "next" not in rest.links
    assert len(list(alice.list_repo_likers(model))) == 3


def test_a_moved_repo_keeps_its_likes_a_deleted_one_loses_them(
    hub: Hub, alice: HfApi, bob: HfApi
) -> None:
    model = alice.create_repo(f"alice/{unique('moving')}").repo_id
    like(hub, hub.bob, model)
    moved = f"alice/{unique('moved')}"
    alice.move_repo(model, moved)
    assert alice.model_info(moved).likes == 1
    assert moved in bob.list_liked_repos().models
    assert [u.username for u in alice.list_repo_likers(moved)] == ["bob"]
    alice.delete_repo(moved)
    assert moved not in bob.list_liked_repos().models
    again = alice.create_repo(moved).repo_id  # the same name is a new repo, with no likes
    assert alice.model_info(again).likes == 0
    assert list(alice.list_repo_likers(again)) == []


# ---- collections


def test_collection_lifecycle(hub: Hub, alice: HfApi) -> None:
    title = f"Tools {unique('c')}"
    collection = alice.create_collection(title, description="Useful things")
    assert collection.slug.startswith(f"alice/{title.lower().replace(' ', '-')}-")
    assert collection.url == f"{hub.endpoint}/collections/{collection.slug}"
    assert collection.owner["name"] == "alice" and collection.items == []
    with pytest.raises(HfHubHTTPError) as twice:
        alice.create_collection(title)
    assert twice.value.response.status_code == 409
    assert twice.value.response.json()["slug"] == collection.slug
    assert alice.create_collection(title, exists_ok=True).slug == collection.slug
    renamed = alice.update_collection_metadata(
        collection.slug, title="Renamed tools", theme="green", position=3
    )
    assert (renamed.title, renamed.theme, renamed.position) == ("Renamed tools", "green", 3)
    assert renamed.description == "Useful things" and renamed.slug != collection.slug
    assert alice.get_collection(collection.slug).slug == renamed.slug  # the old slug still works
    page = httpx.get(f"{hub.endpoint}/collections/{collection.slug}", follow_redirects=True)
    assert page.status_code == 200 and "Renamed tools" in page.text
    alice.delete_collection(renamed.slug)
    with pytest.raises(HfHubHTTPError) as gone:
        alice.get_collection(renamed.slug)
    assert gone.value.response.status_code == 404
    alice.delete_collection(renamed.slug, missing_ok=True)


def test_collection_items(alice: HfApi) -> None:
    model = alice.create_repo(f"alice/{unique('item')}").repo_id
    space = alice.create_repo(f"alice/{unique('item')}", repo_type="space", space_sdk="static")
    nested = alice.create_collection(f"Nested {unique('c')}")
    collection = alice.create_collection(f"Items {unique('c')}")
    added = alice.add_collection_item(collection.slug, model, "model", note="A model")
    assert added.position == collection.position and added.items[0].note == "A model"
    alice.add_collection_item(collection.slug, space.repo_id, "space")
    alice.add_collection_item(collection.slug, "2307.09288", "paper")
    alice.add_collection_item(collection.slug, nested.slug, "collection")
    with pytest.raises(HfHubHTTPError) as twice:
        alice.add_collection_item(collection.slug, model, "model")
    assert twice.value.response.status_code == 409
    alice.add_collection_item(collection.slug, model, "model", exists_ok=True)
    with pytest.raises(HfHubHTTPError):  # not a dataset
        alice.add_collection_item(collection.slug, model, "dataset")
    got = alice.get_collection(collection.slug)
    assert [(i.item_type, i.item_id) for i in got.items] == [
        ("model", model), ("space", space.repo_id), ("paper", "2307.09288"),
        ("collection", nested.slug),
    ]  # fmt: skip
    alice.update_collection_item(collection.slug, got.items[0].item_object_id, position=2)
    alice.update_collection_item(collection.slug, got.items[1].item_object_id, note="The app")
    got = alice.get_collection(collection.slug)
    assert [i.item_type for i in got.items] == ["space", "paper", "model", "collection"]
    assert [i.position for i in got.items] == [0, 1, 2, 3] and got.items[0].note == "The app"
    alice.delete_collection_item(collection.slug, got.items[1].item_object_id)
    alice.delete_collection_item(collection.slug, got.items[1].item_object_id, missing_ok=True)
    alice.delete_repo(model)  # a deleted repo leaves the collections that held it
    alice.delete_collection(nested.slug)  # and so does a deleted collection
    got = alice.get_collection(collection.slug)
    assert [(i.item_type, i.item_id) for i in got.items] == [("space", space.repo_id)]


def test_list_collections(hub: Hub, alice: HfApi, bob: HfApi) -> None:
    model = alice.create_repo(f"alice/{unique('listed')}").repo_id
    public = alice.create_collection(f"Public {unique('c')}")
    hidden = alice.create_collection(f"Hidden {unique('c')}", private=True)
    for slug in (public.slug, hidden.slug):
        alice.add_collection_item(slug, model, "model")
    for i in range(5):
        alice.add_collection_item(public.slug, f"2307.0{i}288", "paper")
    mine = [c.slug for c in alice.list_collections(owner="alice", item=f"models/{model}")]
    assert sorted(mine) == sorted([public.slug, hidden.slug])
    theirs = list(bob.list_collections(owner="alice", item=f"models/{model}"))
    assert [c.slug for c in theirs] == [public.slug]
    assert len(theirs[0].items) == 4  # a listing shows the first items only
    assert len(bob.get_collection(public.slug).items) == 6
    assert [c.position for c in alice.list_collections(owner="alice", limit=2)] == [0, 1]
    assert list(bob.list_collections(item="models/nobody/nothing")) == []
    for sort in ("lastModified", "trending", "upvotes"):
        assert len(list(alice.list_collections(owner="alice", sort=sort, limit=3))) == 3
