"""HF's JSON shapes for discussions and pull requests (what huggingface_hub's `Discussion`,
`DiscussionWithDetails` and `DiscussionEvent` are read from)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from hugbox.wire import WireModel


class DiscussionAuthor(WireModel):
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
    author: DiscussionAuthor
    repo: DiscussionRepo
    pinned: bool
    numComments: int
    topReactions: list[Reaction]


class DiscussionPage(WireModel):
    """A page of `get_repo_discussions` (pages of 50, `start` is the first's index)."""

    discussions: list[Discussion]
    count: int
    start: int


class DiscussionEvent(WireModel):
    """A comment, status change, commit or title change; `data` depends on the `type`."""

    id: str
    type: str
    createdAt: str
    author: DiscussionAuthor | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class DiscussionChanges(WireModel):
    base: str


class DiscussionWithDetails(Discussion):
    events: list[DiscussionEvent]
    changes: DiscussionChanges | None  # a pull request's target; null for a discussion
    filesWithConflicts: list[str]
    diff: str
