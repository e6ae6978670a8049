"""HF's JSON shapes for discussions and pull requests (what huggingface_hub's `Discussion`,
`DiscussionWithDetails` and `DiscussionEvent` are read from), and the one function that writes
each: an event is serialized the same way in the details and in an action's answer."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from hugbox.auth.models import Account
from hugbox.community.service import ThreadEvent
from hugbox.repos.models import Discussion as DiscussionRow
from hugbox.repos.models import Repo
from hugbox.repos.schemas import iso
from hugbox.web.markdown import render_markdown
from hugbox.wire import OpenWireModel, WireModel


class DiscussionAuthor(OpenWireModel):
    """HF's author object; clients read `name`. Never `null` (the client would crash)."""

    name: str


class DiscussionRepo(WireModel):
    name: str
    type: str


class Reaction(WireModel):
    reaction: str
    count: int


class Discussion(WireModel):
    num: int
    title: str
    status: str
    isPullRequest: bool
    createdAt: str
    author: DiscussionAuthor | None = None  # absent (never null) for a deleted user
    repo: DiscussionRepo
    pinned: bool
    numComments: int
    numReactionUsers: int
    topReactions: list[Reaction]


class DiscussionPage(WireModel):
    """A page of `get_repo_discussions` (pages of 50, `start` is the first's index, `count`
    the filtered total)."""

    discussions: list[Discussion]
    count: int
    start: int
    numClosedDiscussions: int


class DiscussionEvent(WireModel):
    """A comment, status change, commit or title change; `data` depends on the `type`."""

    id: str = Field(pattern="^[0-9a-f]{24}$")
    type: str
    createdAt: str
    author: DiscussionAuthor | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class DiscussionChanges(WireModel):
    base: str
    mergeCommitId: str | None = None


class DiscussionWithDetails(Discussion):
    events: list[DiscussionEvent]
    changes: DiscussionChanges | None = None  # a pull request's target
    filesWithConflicts: list[str] | None = None
    diff: str | None = None
    locked: bool


class NewDiscussion(WireModel):
    """What `create_discussion` answers (the client reads `num`, then the details)."""

    num: int
    url: str
    pullRequest: bool


class NewMessage(WireModel):
    newMessage: DiscussionEvent


class UpdatedComment(WireModel):
    updatedComment: DiscussionEvent


class NewTitle(WireModel):
    newTitle: DiscussionEvent


class NewStatus(WireModel):
    newStatus: DiscussionEvent


class Merged(WireModel):
    mergeCommitId: str


def author_json(account: Account | None) -> dict[str, Any] | None:
    if account is None:
        return None
    return {
        "_id": f"{account.id:024x}", "name": account.name,
        "fullname": account.fullname or account.name,
        "avatarUrl": f"/avatars/{account.name}.svg", "type": account.kind.value,
        "isPro": False, "isHf": False, "isHfAdmin": False, "isMod": False,
    }  # fmt: skip


def _with_author(body: dict[str, Any], account: Account | None, name: str | None = None) -> None:
    author = author_json(account) if account else ({"name": name} if name else None)
    if author is not None:  # a deleted author is left out: `null` crashes the client
        body["author"] = author


def discussion_json(repo: Repo, d: DiscussionRow, num_comments: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "num": d.num, "title": d.title, "status": d.status, "isPullRequest": d.is_pull_request,
        "createdAt": iso(d.created_at),
        "repo": {"name": repo.repo_id, "type": repo.type.value},
        "pinned": False, "numComments": num_comments, "numReactionUsers": 0, "topReactions": [],
    }  # fmt: skip
    _with_author(body, d.author)
    return body


def event_json(event: ThreadEvent) -> dict[str, Any]:
    body: dict[str, Any] = {"id": event.id, "type": event.type, "createdAt": iso(event.created_at)}
    _with_author(body, event.author, event.author_name)
    body["data"] = _comment_data(event) if event.type == "comment" else _plain(event.data)
    return body


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "_"}


def _comment_data(event: ThreadEvent) -> dict[str, Any]:
    latest: dict[str, Any] = {
        "raw": event.content, "html": render_markdown(event.content),
        "updatedAt": iso(event.updated_at or event.created_at),
    }  # fmt: skip
    _with_author(latest, event.author)
    return {
        "edited": event.edited, "hidden": event.hidden, "latest": latest,
        "numEdits": 1 if event.edited else 0,
        "editors": [event.author.name] if event.author else [],
        "editorAvatarUrls": [], "reactions": [],
    }  # fmt: skip
