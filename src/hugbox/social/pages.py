"""Pages: the heart on a repo's page, a namespace's collections, one collection and its
editing (items added, moved, annotated and removed), each change a CSRF-checked form."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from hugbox.auth.service import Caller, get_account
from hugbox.auth.sessions import PageCaller
from hugbox.deps import SessionDep
from hugbox.errors import AuthenticationRequired, BadRequest
from hugbox.names import has_control
from hugbox.repos.models import Repo
from hugbox.repos.pages import PageRepo, add_repo_page, repo_path, see_other
from hugbox.social import collection_items as items
from hugbox.social import collections, likes
from hugbox.social.models import ITEM_TYPES, THEMES, Collection
from hugbox.web.session import CheckedForm
from hugbox.web.templates import render

router = APIRouter(tags=["pages"])
ONE = "/collections/{namespace}/{slug}"
LINE_BREAKS = str.maketrans("", "", "\r\n\t")
LIMITS = {
    "title": 60,
    "description": 150,
    "note": 500,
    "id": 300,
    "type": 32,
    "action": 16,
    "theme": 16,
}


@dataclass(frozen=True)
class LikeView:
    count: int
    liked: bool


def like_section(request: Request, session: Session, repo: Repo) -> LikeView:
    """The heart beside a repo's name: its count, and whether the viewer's is in it."""
    caller: Caller | None = getattr(request.state, "caller", None)
    user = caller.user if caller is not None else None
    return LikeView(repo.likes, likes.is_liked(session, repo=repo, user=user))


def toggle_like(
    repo: PageRepo, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    if caller.user is None:
        return see_other(f"/login?next={repo_path(repo)}")
    if likes.is_liked(session, repo=repo, user=caller.user):
        likes.unlike(session, repo=repo, user=caller.user)
    else:
        likes.like(session, repo=repo, user=caller.user)
    return see_other(repo_path(repo))


add_repo_page(router, "/like", toggle_like, ("POST",))


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > LIMITS[name]:
        raise BadRequest(f"The {name} is too long: at most {LIMITS[name]} characters")
    # Forms skip the edge's check of JSON bodies: PostgreSQL's text cannot hold a NUL.
    if has_control(text.translate(LINE_BREAKS)):
        raise BadRequest(f"The {name} holds a control character")
    return text


@router.get("/collections/{namespace}")
def namespace_collections(
    request: Request, namespace: str, session: SessionDep, caller: PageCaller
) -> Response:
    owner = get_account(session, namespace)
    query = collections.CollectionQuery(owners=[owner.name])
    found = collections.list_collections(
        session, caller=caller, query=query, item_pks={}, offset=0, page_size=1000
    )
    return render(
        request, "social/collections.html", owner=owner, collections=found,
        slug_of=collections.slug_of, can_create=collections.can_edit(caller, owner),
    )  # fmt: skip


@router.post("/collections/{namespace}")
def create_collection(
    namespace: str, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    created = collections.create_collection(
        session, caller=_logged_in(caller), namespace=namespace, title=_text(form, "title"),
        description=_text(form, "description"), private=form.get("private") == "on",
    )  # fmt: skip
    return see_other(f"/collections/{collections.slug_of(created)}")


def _logged_in(caller: Caller) -> Caller:
    if caller.user is None:
        raise AuthenticationRequired("Log in to change collections")
    return caller


@router.get(ONE)
def show_collection(
    request: Request, namespace: str, slug: str, session: SessionDep, caller: PageCaller
) -> Response:
    found = collections.get_collection(session, caller=caller, slug=f"{namespace}/{slug}")
    if f"{namespace}/{slug}" != collections.slug_of(found):  # an old slug: show the current one
        return see_other(f"/collections/{collections.slug_of(found)}")
    reader = request.app.state.repo_hooks.reader(session, caller)
    return render(
        request, "social/collection.html", collection=found, slug=collections.slug_of(found),
        items=items.visible_items(session, caller=reader, collection=found),
        can_edit=collections.can_edit(caller, found.owner), themes=THEMES,
        item_types=ITEM_TYPES, slug_of=collections.slug_of,
    )  # fmt: skip


def _editable(session: Session, caller: Caller, namespace: str, slug: str) -> Collection:
    slug = f"{namespace}/{slug}"
    return collections.editable_collection(session, caller=_logged_in(caller), slug=slug)


def _back(found: Collection) -> Response:
    return see_other(f"/collections/{collections.slug_of(found)}")


@router.post(ONE + "/settings")
def edit_collection(
    namespace: str, slug: str, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    found = _editable(session, caller, namespace, slug)
    title = _text(form, "title") or found.title
    changes = {
        "title": title, "description": _text(form, "description") or None,
        "private": form.get("private") == "on", "theme": _text(form, "theme") or found.theme,
    }  # fmt: skip
    collections.update_collection(session, collection=found, changes=changes)
    return _back(found)


@router.post(ONE + "/delete")
def delete_collection(
    namespace: str, slug: str, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    found = _editable(session, caller, namespace, slug)
    owner = found.owner.name
    collections.delete_collection(session, collection=found)
    return see_other(f"/collections/{owner}")


@router.post(ONE + "/items")
def add_item(
    request: Request, namespace: str, slug: str, session: SessionDep, caller: PageCaller,
    form: CheckedForm,
) -> Response:  # fmt: skip
    found = _editable(session, caller, namespace, slug)
    reader = request.app.state.repo_hooks.reader(session, caller)
    items.add_item(
        session, caller=reader, collection=found, item_type=_text(form, "type"),
        item_id=_text(form, "id"), note=_text(form, "note") or None,
    )  # fmt: skip
    return _back(found)


@router.post(ONE + "/items/{item_id}")
def change_item(
    namespace: str, slug: str, item_id: str, session: SessionDep, caller: PageCaller,
    form: CheckedForm,
) -> Response:  # fmt: skip
    """One form per item: `action` is note, up, down or remove."""
    found = _editable(session, caller, namespace, slug)
    action = _text(form, "action")
    item = items.get_item(session, collection=found, object_id=item_id)
    if action == "remove":
        items.delete_item(session, collection=found, object_id=item_id)
    elif action in ("up", "down"):
        position = item.position + (-1 if action == "up" else 1)
        items.update_item(session, collection=found, object_id=item_id, position=max(0, position))
    elif action == "note":
        items.update_item(session, collection=found, object_id=item_id, note=_text(form, "note"))
    else:
        raise BadRequest(f"Unknown action {action!r}")
    return _back(found)
