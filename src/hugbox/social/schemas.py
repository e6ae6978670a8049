"""HF's JSON shapes for likes and collections (huggingface_hub's `UserLikes`, `User`,
`Collection`, `CollectionItem`), and the functions that build them."""

from __future__ import annotations

import html
from typing import Any, Literal

from pydantic import Field

from hugbox.auth.models import Account
from hugbox.repos.schemas import iso
from hugbox.social.collection_items import ItemView
from hugbox.social.collections import slug_of
from hugbox.social.likes import LikedRepo
from hugbox.social.models import Collection
from hugbox.wire import WireModel

# ---- likes


class LikedRepoName(WireModel):
    name: str
    type: Literal["model", "dataset", "space"]


class UserLike(WireModel):
    """One item of `GET /api/users/{user}/likes` (`list_liked_repos`)."""

    createdAt: str
    repo: LikedRepoName


class Liker(WireModel):
    """One item of `GET /api/{type}s/{repo}/likers` (`list_repo_likers`)."""

    user: str
    fullname: str
    avatarUrl: str
    type: Literal["user"]


class LikeCount(WireModel):
    """What liking or unliking answers: the repo's count and whether the caller likes it."""

    likes: int
    isLikedByUser: bool


def user_like(liked: LikedRepo) -> dict[str, Any]:
    repo = liked.repo
    return {
        "createdAt": iso(liked.liked_at),
        "repo": {"name": repo.repo_id, "type": repo.type.value},
    }


def avatar_url(base: str, account: Account) -> str:
    return f"{base}/avatars/{account.name}.svg"  # as whoami's (auth.api)


def liker(base: str, user: Account) -> dict[str, Any]:
    return {
        "user": user.name,
        "fullname": user.fullname,
        "avatarUrl": avatar_url(base, user),
        "type": "user",
    }


# ---- collections


class Owner(WireModel):
    """An author object (never a bare name: the client keeps it as is)."""

    name: str
    fullname: str
    avatarUrl: str
    type: Literal["user", "org"]


class ItemNote(WireModel):
    text: str
    html: str


class Item(WireModel):
    """One item of a collection. Repos carry the fields of their card; nested collections
    their `slug` (which the client takes as the item's id)."""

    object_id: str = Field(alias="_id")
    id: str
    type: Literal["model", "dataset", "space", "paper", "collection"]
    position: int
    note: ItemNote | None = None
    author: str | None = None
    private: bool | None = None
    gated: bool | str | None = None
    likes: int | None = None
    downloads: int | None = None
    lastModified: str | None = None
    repoType: str | None = None
    slug: str | None = None
    title: str | None = None


class CollectionSummary(WireModel):
    """A collection as `list_collections` gives it: at most 4 items, and no `position` (the
    client sets it from the order and would refuse a second one)."""

    slug: str
    title: str
    description: str | None = None
    owner: Owner
    items: list[Item]
    lastUpdated: str
    private: bool
    theme: str
    upvotes: int
    isUpvotedByUser: bool
    gating: bool
    shareUrl: str


class CollectionModel(CollectionSummary):
    """One collection (get, create, add item): its items and its `position` among its
    owner's, which the client requires here."""

    position: int


class UpdatedCollection(WireModel):
    """`update_collection_metadata`'s answer: the collection under `data`."""

    data: CollectionModel


def owner(base: str, account: Account) -> dict[str, Any]:
    kind = "org" if account.kind.value == "org" else "user"
    return {
        "name": account.name,
        "fullname": account.fullname,
        "avatarUrl": avatar_url(base, account),
        "type": kind,
    }


def collection_body(
    base: str, collection: Collection, items: list[ItemView], *, with_position: bool = True
) -> dict[str, Any]:
    slug = slug_of(collection)
    body: dict[str, Any] = {
        "slug": slug, "title": collection.title, "description": collection.description,
        "owner": owner(base, collection.owner), "items": [item_body(view) for view in items],
        "lastUpdated": iso(collection.updated_at), "private": collection.private,
        "theme": collection.theme, "upvotes": collection.upvotes, "isUpvotedByUser": False,
        "gating": collection.gating, "shareUrl": f"{base}/collections/{slug}",
    }  # fmt: skip
    if with_position:
        body["position"] = collection.position
    return body


def item_body(view: ItemView) -> dict[str, Any]:
    item = view.item
    body: dict[str, Any] = {"_id": item.object_id, "id": item.target, "type": item.item_type,
                            "position": item.position}  # fmt: skip
    if item.note:
        body["note"] = {"text": item.note, "html": html.escape(item.note).replace("\n", "<br>")}
    if view.repo is not None:
        body.update(_repo_fields(view))
    if view.collection is not None:
        body.update(id=view.collection.object_id, slug=slug_of(view.collection),
                    title=view.collection.title)  # fmt: skip
    return body


def _repo_fields(view: ItemView) -> dict[str, Any]:
    repo = view.repo
    assert repo is not None
    return {
        "id": repo.repo_id, "author": repo.namespace, "private": repo.private,
        "gated": repo.gated or False, "likes": repo.likes, "downloads": repo.downloads,
        "lastModified": iso(repo.last_modified), "repoType": repo.type.value,
    }  # fmt: skip
