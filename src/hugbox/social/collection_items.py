"""What a collection holds: add, update (note, position) and remove items, and the items a
viewer may see, each with the repo or collection it names."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from hugbox.auth.service import Caller
from hugbox.errors import BadRequest, Conflict, NotFound
from hugbox.repos import access
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.service import Moved, find_repo
from hugbox.social import collections
from hugbox.social.models import ITEM_TYPES, REPO_ITEM_TYPES, Collection, CollectionItem

_PAPER_ID = re.compile(r"^\d{4}\.\d{4,5}$")


@dataclass(frozen=True)
class ItemView:
    """An item as a viewer sees it: with its repo, or its nested collection, when it has one."""

    item: CollectionItem
    repo: Repo | None = None
    collection: Collection | None = None


@dataclass(frozen=True)
class Target:
    item_type: str
    target: str
    repo_pk: int | None = None


def resolve(session: Session, *, caller: Caller, item_type: str, item_id: str) -> Target:
    """What `item_id` of `item_type` names, if it exists and the caller may see it."""
    if item_type not in ITEM_TYPES:
        raise BadRequest(f"Unknown item type {item_type!r}: use one of {', '.join(ITEM_TYPES)}")
    if item_type in REPO_ITEM_TYPES:
        repo = _readable_repo(session, caller, RepoType(item_type), item_id)
        return Target(item_type, str(repo.pk), repo.pk)
    if item_type == "paper":
        if not _PAPER_ID.match(item_id):
            raise BadRequest(f"Invalid paper id {item_id[:100]!r}: expected an arXiv id")
        return Target("paper", item_id)
    nested = collections.get_collection(session, caller=caller, slug=item_id)
    return Target("collection", nested.object_id)


def _readable_repo(session: Session, caller: Caller, repo_type: RepoType, repo_id: str) -> Repo:
    found = find_repo(session, repo_type, repo_id) if repo_id.count("/") <= 1 else None
    repo = found.repo if isinstance(found, Moved) else found
    if repo is None or not access.can_read(caller, repo):
        raise NotFound(f"No {repo_type.value} named {repo_id[:200]!r}")
    return repo


def add_item(
    session: Session, *, caller: Caller, collection: Collection, item_type: str, item_id: str,
    note: str | None = None,
) -> CollectionItem:  # fmt: skip
    target = resolve(session, caller=caller, item_type=item_type, item_id=item_id)
    if target.item_type == "collection" and target.target == collection.object_id:
        raise BadRequest("A collection cannot hold itself")
    if _find(session, collection, target) is not None:
        raise Conflict(f"This {item_type} is already in the collection")
    last = session.scalar(
        select(func.max(CollectionItem.position)).where(
            CollectionItem.collection_id == collection.id
        )
    )
    item = CollectionItem(
        collection_id=collection.id, item_type=target.item_type, target=target.target,
        repo_pk=target.repo_pk, position=0 if last is None else last + 1, note=note or None,
    )  # fmt: skip
    session.add(item)
    collections.touch(collection)
    session.flush()
    return item


def _find(session: Session, collection: Collection, target: Target) -> CollectionItem | None:
    return session.scalar(
        select(CollectionItem).where(
            CollectionItem.collection_id == collection.id,
            CollectionItem.item_type == target.item_type,
            CollectionItem.target == target.target,
        )
    )


def get_item(session: Session, *, collection: Collection, object_id: str) -> CollectionItem:
    found = session.scalar(
        select(CollectionItem).where(
            CollectionItem.collection_id == collection.id,
            CollectionItem.object_id == object_id.lower()[:24],
        )
    )
    if found is None:
        raise NotFound(f"Item {object_id[:100]!r} not found in this collection")
    return found


def update_item(
    session: Session, *, collection: Collection, object_id: str, note: str | None = None,
    position: int | None = None,
) -> None:  # fmt: skip
    """Change an item's note, or move it to `position` (the others close up around it)."""
    item = get_item(session, collection=collection, object_id=object_id)
    if note is not None:
        item.note = note or None
    if position is not None:
        ordered = [other for other in _ordered(session, collection) if other.id != item.id]
        ordered.insert(max(0, min(position, len(ordered))), item)
        _renumber(ordered)
    collections.touch(collection)
    session.flush()


def delete_item(session: Session, *, collection: Collection, object_id: str) -> None:
    item = get_item(session, collection=collection, object_id=object_id)
    session.delete(item)
    session.flush()
    _renumber(_ordered(session, collection))
    collections.touch(collection)
    session.flush()


def _ordered(session: Session, collection: Collection) -> list[CollectionItem]:
    stmt = select(CollectionItem).where(CollectionItem.collection_id == collection.id)
    return list(session.scalars(stmt.order_by(CollectionItem.position, CollectionItem.id)))


def _renumber(items: list[CollectionItem]) -> None:
    for position, item in enumerate(items):
        item.position = position


def visible_items(
    session: Session, *, caller: Caller, collection: Collection, limit: int | None = None
) -> list[ItemView]:
    """The items the caller may see, in order: an item whose repo or collection they may not
    read is left out (its existence is no one else's business)."""
    items = _ordered(session, collection)
    repos = _repos(session, [i.repo_pk for i in items if i.repo_pk is not None])
    nested = _collections(session, [i.target for i in items if i.item_type == "collection"])
    views = [_view(item, repos, nested, caller) for item in items]
    shown = [view for view in views if view is not None]
    return shown if limit is None else shown[:limit]


def _view(
    item: CollectionItem, repos: dict[int, Repo], nested: dict[str, Collection], caller: Caller
) -> ItemView | None:
    if item.repo_pk is not None:
        repo = repos.get(item.repo_pk)
        return ItemView(item, repo=repo) if repo and access.can_read(caller, repo) else None
    if item.item_type == "collection":
        found = nested.get(item.target)
        return (
            ItemView(item, collection=found)
            if found and collections.can_see(caller, found)
            else None
        )
    return ItemView(item)


def _repos(session: Session, pks: list[int]) -> dict[int, Repo]:
    if not pks:
        return {}
    return {repo.pk: repo for repo in session.scalars(select(Repo).where(Repo.pk.in_(pks)))}


def _collections(session: Session, object_ids: list[str]) -> dict[str, Collection]:
    if not object_ids:
        return {}
    stmt = select(Collection).where(Collection.object_id.in_(object_ids))
    return {found.object_id: found for found in session.scalars(stmt)}


def item_filters(session: Session, *, caller: Caller, items: list[str]) -> dict[str, list[str]]:
    """`list_collections`' `item=models/<id>` filters as targets by item type; an item that
    does not exist (or the caller may not see) matches nothing."""
    targets: dict[str, list[str]] = {}
    for value in items:
        plural, _, item_id = value.partition("/")
        try:
            found = resolve(
                session, caller=caller, item_type=plural.removesuffix("s"), item_id=item_id
            )
        except (NotFound, BadRequest):
            continue
        targets.setdefault(found.item_type, []).append(found.target)
    return targets


def forget_deleted_repo(session: Session, repo_pk: int) -> None:
    """Drop the items of a deleted repo (see `likes.forget_deleted_repo`)."""
    still_there = exists().where(Repo.pk == repo_pk)
    session.execute(delete(CollectionItem).where(CollectionItem.repo_pk == repo_pk, ~still_there))
