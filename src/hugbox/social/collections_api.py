"""Routes for collections (huggingface_hub's `*collection*` calls). A collection is named by
`/{namespace}/{slug}` in the URL; only the slug's trailing id decides which."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from hugbox.deps import BaseUrlDep, CallerDep, SessionDep, SettingsDep
from hugbox.errors import BadRequest
from hugbox.pagination import MAX_OFFSET, decode_cursor, paginate
from hugbox.repos.deps import ListingCaller
from hugbox.social import collection_items as items
from hugbox.social import collections, schemas
from hugbox.social.collections import CollectionQuery
from hugbox.social.models import Collection
from hugbox.wire import Empty, returns

router = APIRouter()
ONE = "/api/collections/{namespace}/{slug}"
LISTED_ITEMS = 4  # the list shows a collection's first items only, as HF's does


@router.get("/api/collections", **returns(list[schemas.CollectionSummary]))
def list_collections(
    request: Request, response: Response, session: SessionDep, caller: ListingCaller,
    settings: SettingsDep, base: BaseUrlDep,
    owner: Annotated[list[str] | None, Query()] = None,
    item: Annotated[list[str] | None, Query()] = None,
    sort: str | None = None, q: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_OFFSET)] = None, cursor: str | None = None,
) -> Any:  # fmt: skip
    query = CollectionQuery(owners=owner or [], items=item or [], sort=sort, search=q)
    targets = items.item_filters(session, caller=caller, items=query.items)
    offset = decode_cursor(cursor)
    size = min(limit or settings.list_page_size, settings.list_page_size)
    found = collections.list_collections(
        session, caller=caller, query=query, item_pks=targets, offset=offset, page_size=size + 1
    )
    page = paginate(request, response, found, offset=offset, page_size=size)
    return [_summary(base, session, caller, c) for c in page]


def _summary(base: str, session: SessionDep, caller: CallerDep, found: Collection) -> Any:
    shown = items.visible_items(session, caller=caller, collection=found, limit=LISTED_ITEMS)
    return schemas.collection_body(base, found, shown, with_position=False)


@router.get(ONE, **returns(schemas.CollectionModel))
def get_collection(
    namespace: str, slug: str, session: SessionDep, caller: ListingCaller, base: BaseUrlDep
) -> Any:
    found = collections.get_collection(session, caller=caller, slug=f"{namespace}/{slug}")
    shown = items.visible_items(session, caller=caller, collection=found)
    return schemas.collection_body(base, found, shown)


class NewCollection(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    title: str = Field(min_length=1, max_length=60)
    namespace: str | None = Field(default=None, max_length=96)
    description: str | None = Field(default=None, max_length=150)
    private: bool = False


@router.post("/api/collections", **returns(schemas.CollectionModel))
def create_collection(
    body: NewCollection, session: SessionDep, caller: CallerDep, base: BaseUrlDep
) -> Any:
    created = collections.create_collection(
        session, caller=caller, title=body.title, namespace=body.namespace,
        description=body.description, private=body.private,
    )  # fmt: skip
    return schemas.collection_body(base, created, [])


class CollectionChanges(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str | None = Field(default=None, min_length=1, max_length=60)
    description: str | None = Field(default=None, max_length=150)
    position: int | None = Field(default=None, ge=0, le=MAX_OFFSET)
    private: bool | None = None
    theme: str | None = Field(default=None, max_length=16)  # one of models.THEMES
    gating: bool | None = None


@router.patch(ONE, **returns(schemas.UpdatedCollection))
def update_collection_metadata(
    namespace: str, slug: str, body: CollectionChanges, session: SessionDep, caller: CallerDep,
    reader: ListingCaller, base: BaseUrlDep,
) -> Any:  # fmt: skip
    found = collections.editable_collection(session, caller=caller, slug=f"{namespace}/{slug}")
    collections.update_collection(
        session, collection=found, changes=body.model_dump(exclude_none=True)
    )
    shown = items.visible_items(session, caller=reader, collection=found)
    return {"data": schemas.collection_body(base, found, shown)}


@router.delete(ONE, **returns(Empty))
def delete_collection(namespace: str, slug: str, session: SessionDep, caller: CallerDep) -> Any:
    found = collections.editable_collection(session, caller=caller, slug=f"{namespace}/{slug}")
    collections.delete_collection(session, collection=found)
    return {}


class ItemRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=300)
    type: str = Field(min_length=1, max_length=32)


class NewItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    item: ItemRef
    note: str | None = Field(default=None, max_length=500)


@router.post(ONE + "/items", **returns(schemas.CollectionModel))
def add_collection_item(
    namespace: str, slug: str, body: NewItem, session: SessionDep, caller: CallerDep,
    reader: ListingCaller, base: BaseUrlDep,
) -> Any:  # fmt: skip
    found = collections.editable_collection(session, caller=caller, slug=f"{namespace}/{slug}")
    items.add_item(
        session, caller=reader, collection=found, item_type=body.item.type,
        item_id=body.item.id, note=body.note,
    )  # fmt: skip
    shown = items.visible_items(session, caller=reader, collection=found)
    return schemas.collection_body(base, found, shown)


class ItemChanges(BaseModel):
    model_config = ConfigDict(extra="ignore")

    note: str | None = Field(default=None, max_length=500)
    position: int | None = Field(default=None, ge=0, le=MAX_OFFSET)


@router.patch(ONE + "/items/{item_id}", **returns(Empty))
def update_collection_item(
    namespace: str, slug: str, item_id: str, body: ItemChanges, session: SessionDep,
    caller: CallerDep,
) -> Any:  # fmt: skip
    found = collections.editable_collection(session, caller=caller, slug=f"{namespace}/{slug}")
    items.update_item(
        session, collection=found, object_id=item_id, note=body.note, position=body.position
    )
    return {}


@router.delete(ONE + "/items/{item_id}", **returns(Empty))
def delete_collection_item(
    namespace: str, slug: str, item_id: str, session: SessionDep, caller: CallerDep
) -> Any:
    found = collections.editable_collection(session, caller=caller, slug=f"{namespace}/{slug}")
    items.delete_item(session, collection=found, object_id=item_id)
    return {}


class ResourceGroup(BaseModel):
    model_config = ConfigDict(extra="ignore")

    resourceGroupId: str | None = Field(default=None, max_length=64)


@router.post(ONE + "/resource-group", **returns(Empty))
def update_collection_resource_group(
    namespace: str, slug: str, body: ResourceGroup, session: SessionDep, caller: CallerDep
) -> Any:
    """hugbox has no resource groups (an Enterprise Hub feature): only "none" is accepted."""
    collections.editable_collection(session, caller=caller, slug=f"{namespace}/{slug}")
    if body.resourceGroupId is not None:
        raise BadRequest("hugbox has no resource groups: pass `resourceGroupId: null`")
    return {}
