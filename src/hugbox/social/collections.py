"""Collections: create, find (by a slug whose trailing id decides), update, delete and list,
with who may see and who may edit each."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.orm import Session

from hugbox.auth.models import Account, AccountKind, OrgRole
from hugbox.auth.scopes import Permission, Target
from hugbox.auth.service import Caller, find_account, require
from hugbox.db import utcnow
from hugbox.errors import AuthenticationRequired, BadRequest, CollectionExists, Forbidden, NotFound
from hugbox.social.models import THEMES, Collection, CollectionItem

_SLUG_ID = re.compile(r"-([0-9a-fA-F]{24})$")
_WORDS = re.compile(r"[^a-z0-9]+")
SORTS = ("lastModified", "trending", "upvotes")


def slug_of(collection: Collection) -> str:
    words = _WORDS.sub("-", collection.title.lower()).strip("-") or "collection"
    return f"{collection.owner.name}/{words}-{collection.object_id}"


def slug_id(slug: str) -> str:
    """The object id a slug ends with; a slug without one names no collection."""
    found = _SLUG_ID.search(slug)
    if found is None or len(slug) > 300:
        raise NotFound(f"Collection {slug[:100]!r} not found")
    return found[1].lower()


def can_see(caller: Caller, collection: Collection) -> bool:
    if not collection.private:
        return True
    user = caller.user
    if user is None:
        return False
    return user.is_admin or user.id == collection.owner_id or _role(caller, collection) is not None


def can_edit(caller: Caller, owner: Account) -> bool:
    """A user edits their own collections; an org's, its members of write rank and up."""
    user = caller.user
    if user is None:
        return False
    if user.is_admin or user.id == owner.id:
        return True
    role = caller.org_role(owner.id) if owner.kind == AccountKind.ORG else None
    return role is not None and role.rank >= OrgRole.WRITE.rank


def _role(caller: Caller, collection: Collection) -> OrgRole | None:
    return caller.org_role(collection.owner_id)


def get_collection(session: Session, *, caller: Caller, slug: str) -> Collection:
    """The collection `slug` names, if the caller may see it; else 404 (as if absent)."""
    found = session.scalar(select(Collection).where(Collection.object_id == slug_id(slug)))
    if found is None or not can_see(caller, found):
        raise NotFound(f"Collection {slug[:100]!r} not found")
    return found


def editable_collection(session: Session, *, caller: Caller, slug: str) -> Collection:
    """`get_collection`, for a change: a write token of one who may edit it."""
    if caller.user is None:
        raise AuthenticationRequired("Log in (pass a token) to change a collection")
    found = get_collection(session, caller=caller, slug=slug)
    require(caller, Permission.COLLECTION_WRITE, Target(found.owner.name), "change this collection")
    if not can_edit(caller, found.owner):
        raise Forbidden(f"You cannot edit the collections of {found.owner.name}")
    return found


def create_collection(
    session: Session, *, caller: Caller, title: str, namespace: str | None,
    description: str | None = None, private: bool = False,
) -> Collection:  # fmt: skip
    owner = _creator_namespace(session, caller, namespace)
    same = select(Collection).where(
        Collection.owner_id == owner.id, func.lower(Collection.title) == title.lower()
    )
    existing = session.scalar(same.limit(1))
    if existing is not None:
        raise CollectionExists(slug=slug_of(existing))
    collection = Collection(
        owner=owner, owner_id=owner.id, title=title, description=description or None,
        private=private, position=_next_position(session, owner),
    )  # fmt: skip
    session.add(collection)
    session.flush()
    return collection


def _creator_namespace(session: Session, caller: Caller, namespace: str | None) -> Account:
    if caller.user is None:
        raise AuthenticationRequired("Log in (pass a token) to create a collection")
    owner = caller.user if namespace is None else find_account(session, namespace)
    if owner is None:
        raise NotFound(f"No user or organization named {namespace!r}")
    require(caller, Permission.COLLECTION_WRITE, Target(owner.name), "create a collection")
    if not can_edit(caller, owner):
        raise Forbidden(f"You cannot create collections in {owner.name}")
    return owner


def _next_position(session: Session, owner: Account) -> int:
    last = session.scalar(
        select(func.max(Collection.position)).where(Collection.owner_id == owner.id)
    )
    return 0 if last is None else last + 1


def update_collection(session: Session, *, collection: Collection, changes: dict[str, Any]) -> None:
    """Change the given fields (title, description, position, private, theme, gating)."""
    theme = changes.get("theme")
    if theme is not None and theme not in THEMES:
        raise BadRequest(f"Unknown theme {theme!r}: use one of {', '.join(THEMES)}")
    for name, value in changes.items():
        setattr(collection, name, value)
    touch(collection)
    session.flush()


def touch(collection: Collection) -> None:
    collection.updated_at = utcnow()


def delete_collection(session: Session, *, collection: Collection) -> None:
    """Delete it, and its place in the collections that held it."""
    nested = select(CollectionItem).where(
        CollectionItem.item_type == "collection", CollectionItem.target == collection.object_id
    )
    for item in session.scalars(nested):
        session.delete(item)
    session.delete(collection)
    session.flush()


@dataclass(frozen=True)
class CollectionQuery:
    owners: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)  # `models/<repo id>`, `papers/<id>`, ...
    sort: str | None = None
    search: str | None = None


def list_collections(
    session: Session, *, caller: Caller, query: CollectionQuery, item_pks: dict[str, list[str]],
    offset: int, page_size: int,
) -> list[Collection]:  # fmt: skip
    """The collections `caller` may see that match `query`. `item_pks` are the targets the
    query's items resolved to, by item type (unknown items match nothing)."""
    stmt = _visible(select(Collection), caller)
    if query.owners:
        owned = select(Account.id).where(Account.name_lower.in_([o.lower() for o in query.owners]))
        stmt = stmt.where(Collection.owner_id.in_(owned))
    if query.items:
        stmt = stmt.where(_holding_any(item_pks))
    if query.search:
        stmt = stmt.where(Collection.title.icontains(query.search, autoescape=True))
    stmt = stmt.order_by(*_order(query.sort), Collection.id.desc())
    return list(session.scalars(stmt.offset(offset).limit(page_size)))


def _holding_any(item_pks: dict[str, list[str]]) -> Any:
    if not item_pks:
        return false()
    held = [
        (CollectionItem.item_type == kind) & CollectionItem.target.in_(targets)
        for kind, targets in item_pks.items()
    ]
    return Collection.id.in_(select(CollectionItem.collection_id).where(or_(*held)))


def _order(sort: str | None) -> list[Any]:
    if sort is not None and sort not in SORTS:
        raise BadRequest(f"Unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    if sort in ("trending", "upvotes"):
        return [Collection.upvotes.desc(), Collection.updated_at.desc()]
    return [Collection.updated_at.desc()]


def _visible(stmt: Select[tuple[Collection]], caller: Caller) -> Select[tuple[Collection]]:
    user = caller.user
    if user is not None and user.is_admin:
        return stmt
    if user is None:
        return stmt.where(Collection.private.is_(False))
    owners = [user.id] + [m.org_id for m in user.memberships]
    return stmt.where(or_(Collection.private.is_(False), Collection.owner_id.in_(owners)))
