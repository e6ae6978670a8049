"""Routes for likes: like and unlike a repo, who liked it, what a user liked."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from hugbox.auth.models import Account
from hugbox.auth.scopes import Permission
from hugbox.auth.service import Caller, require
from hugbox.deps import BaseUrlDep, CallerDep, SessionDep, SettingsDep
from hugbox.errors import AuthenticationRequired
from hugbox.pagination import decode_cursor, paginate
from hugbox.repos import access
from hugbox.repos.deps import ListingCaller, ReadableRepo
from hugbox.repos.models import Repo
from hugbox.settings import Settings
from hugbox.social import likes, schemas
from hugbox.wire import returns

router = APIRouter()
API = "/api/{repo_type:repotype}/{namespace}/{name}"


def _liker(caller: Caller, repo: Repo, action: str) -> Account:
    """Liking is a user's own act: a logged-in user, with a write token (a fine-grained one
    with `discussion.write` on the repo: hugbox counts a like as an interaction with it)."""
    if caller.user is None:
        raise AuthenticationRequired(f"Log in (pass a token) to {action} a repo")
    require(caller, Permission.DISCUSSION_WRITE, access.target(repo), f"{action} a repo")
    return caller.user


@router.post(API + "/like", **returns(schemas.LikeCount))
def like(repo: ReadableRepo, session: SessionDep, caller: CallerDep) -> Any:
    count = likes.like(session, repo=repo, user=_liker(caller, repo, "like"))
    return {"likes": count, "isLikedByUser": True}


@router.delete(API + "/like", **returns(schemas.LikeCount))
def unlike(repo: ReadableRepo, session: SessionDep, caller: CallerDep) -> Any:
    count = likes.unlike(session, repo=repo, user=_liker(caller, repo, "unlike"))
    return {"likes": count, "isLikedByUser": False}


def _page_size(settings: Settings, limit: int | None) -> int:
    return max(1, min(limit or settings.list_page_size, settings.list_page_size))


@router.get(API + "/likers", **returns(list[schemas.Liker]))
def list_repo_likers(
    request: Request, response: Response, repo: ReadableRepo, session: SessionDep,
    settings: SettingsDep, base: BaseUrlDep, limit: int | None = None, cursor: str | None = None,
) -> Any:  # fmt: skip
    offset, size = decode_cursor(cursor), _page_size(settings, limit)
    users = likes.list_likers(session, repo=repo, offset=offset, page_size=size + 1)
    page = paginate(request, response, users, offset=offset, page_size=size)
    return [schemas.liker(base, user) for user in page]


@router.get("/api/users/{user}/likes", **returns(list[schemas.UserLike]))
def list_liked_repos(
    request: Request, response: Response, user: str, session: SessionDep, caller: ListingCaller,
    settings: SettingsDep, limit: int | None = None, cursor: str | None = None,
) -> Any:  # fmt: skip
    offset, size = decode_cursor(cursor), _page_size(settings, limit)
    liked = likes.list_liked_repos(
        session, caller=caller, user=user, offset=offset, page_size=size + 1
    )
    page = paginate(request, response, liked, offset=offset, page_size=size)
    return [schemas.user_like(found) for found in page]
