"""Discussions and pull requests: HF's `/api/{type}s/{repo}/discussions…` routes (spec §1)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from hugbox.community import actions, schemas, service
from hugbox.deps import BaseUrlDep, CallerDep, SessionDep, StoreDep
from hugbox.pagination import MAX_OFFSET
from hugbox.repos import access
from hugbox.repos.deps import ContributableRepo, ReadableRepo
from hugbox.repos.models import Repo
from hugbox.wire import returns

router = APIRouter()
API = "/api/{repo_type:repotype}/{namespace}/{name}/discussions"
THREAD = API + "/{num}"


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class NewDiscussion(Body):
    title: str = Field(max_length=500)
    description: str = Field(default="", max_length=65536)
    pull_request: bool = Field(default=False, alias="pullRequest")


class NewComment(Body):
    comment: str = Field(max_length=65536)


class EditedComment(Body):
    content: str = Field(max_length=65536)


class NewTitle(Body):
    title: str = Field(max_length=500)


class NewStatus(Body):
    status: str = Field(max_length=16)
    comment: str = Field(default="", max_length=65536)


class MergeRequest(Body):
    comment: str = Field(default="", max_length=65536)


def web_url(base: str, repo: Repo, num: int) -> str:
    return f"{base}/{repo.type.url_prefix}{repo.repo_id}/discussions/{num}"


@router.post(API, **returns(schemas.NewDiscussion))
def create_discussion(
    body: NewDiscussion, repo: ContributableRepo, session: SessionDep, caller: CallerDep,
    store: StoreDep, base: BaseUrlDep,
) -> Any:  # fmt: skip
    num = actions.create_discussion(
        session, store, caller=caller, repo=repo, title=body.title,
        description=body.description, pull_request=body.pull_request,
    )  # fmt: skip
    return {"num": num, "url": web_url(base, repo, num), "pullRequest": body.pull_request}


# Pages of 50: a page past MAX_OFFSET would overflow the SQL offset.
PageNumber = Annotated[int, Query(ge=0, le=MAX_OFFSET // service.PAGE_SIZE)]


@router.get(API, **returns(schemas.DiscussionPage))
def list_discussions(
    repo: ReadableRepo, session: SessionDep, p: PageNumber = 0,
    type: Literal["all", "discussion", "pull_request"] = "all",
    status: Literal["all", "open", "closed"] = "all",
    author: Annotated[str | None, Query(max_length=96)] = None,
) -> Any:  # fmt: skip
    page = service.list_discussions(session, repo, page=p, kind=type, status=status, author=author)
    return {
        "discussions": [
            schemas.discussion_json(repo, d, page.comments.get(d.id, 1)) for d in page.discussions
        ],
        "count": page.count,
        "start": page.start,
        "numClosedDiscussions": page.num_closed,
    }


@router.get(THREAD, **returns(schemas.DiscussionWithDetails))
def get_discussion(
    repo: ReadableRepo, session: SessionDep, store: StoreDep, caller: CallerDep,
    base: BaseUrlDep, num: int, diff: bool = False,
) -> Any:  # fmt: skip
    found = service.thread(session, store, repo, service.get_discussion(session, repo, num))
    d = found.discussion
    comments = sum(1 for e in found.events if e.type == "comment")
    body = schemas.discussion_json(repo, d, comments)
    body.update(events=[schemas.event_json(e) for e in found.events], locked=False)
    if found.pr is not None:
        body["changes"] = {"base": d.base_ref}
        if d.merge_commit:
            body["changes"]["mergeCommitId"] = d.merge_commit
        body["filesWithConflicts"] = found.pr.conflicts
        # The diff shows file contents: a gated repo's only to those who may download them.
        if diff and access.can_download(session, caller, repo):
            body["diff"] = service.diff(store, repo, found)
    return body


@router.post(THREAD + "/comment", **returns(schemas.NewMessage, status=201))
def comment_discussion(
    body: NewComment, repo: ContributableRepo, session: SessionDep, caller: CallerDep, num: int
) -> Any:
    d = service.get_discussion(session, repo, num)
    event = actions.comment(session, caller=caller, repo=repo, d=d, content=body.comment)
    return {"newMessage": schemas.event_json(event)}


@router.post(THREAD + "/comment/{comment_id}/edit", **returns(schemas.UpdatedComment))
def edit_discussion_comment(
    body: EditedComment, repo: ContributableRepo, session: SessionDep, caller: CallerDep,
    num: int, comment_id: str,
) -> Any:  # fmt: skip
    d = service.get_discussion(session, repo, num)
    event = actions.edit_comment(
        session, caller=caller, repo=repo, d=d, comment_id=comment_id, content=body.content
    )
    return {"updatedComment": schemas.event_json(event)}


@router.post(THREAD + "/comment/{comment_id}/hide", **returns(schemas.UpdatedComment))
def hide_discussion_comment(
    repo: ContributableRepo, session: SessionDep, caller: CallerDep, num: int, comment_id: str
) -> Any:
    d = service.get_discussion(session, repo, num)
    event = actions.edit_comment(
        session, caller=caller, repo=repo, d=d, comment_id=comment_id, content="", hide=True
    )
    return {"updatedComment": schemas.event_json(event)}


@router.post(THREAD + "/title", **returns(schemas.NewTitle))
def rename_discussion(
    body: NewTitle, repo: ContributableRepo, session: SessionDep, caller: CallerDep, num: int
) -> Any:
    d = service.get_discussion(session, repo, num)
    event = actions.rename(session, caller=caller, repo=repo, d=d, title=body.title)
    return {"newTitle": schemas.event_json(event)}


@router.post(THREAD + "/status", **returns(schemas.NewStatus))
def change_discussion_status(
    body: NewStatus, repo: ContributableRepo, session: SessionDep, caller: CallerDep, num: int
) -> Any:
    d = service.get_discussion(session, repo, num)
    event = actions.change_status(
        session, caller=caller, repo=repo, d=d, status=body.status, comment_text=body.comment
    )
    return {"newStatus": schemas.event_json(event)}


@router.post(THREAD + "/merge", **returns(schemas.Merged))
def merge_pull_request(
    repo: ContributableRepo, session: SessionDep, caller: CallerDep, store: StoreDep, num: int,
    body: MergeRequest | None = None,
) -> Any:  # fmt: skip
    d = service.get_discussion(session, repo, num)
    comment = body.comment if body else ""
    oid = actions.merge(session, store, caller=caller, repo=repo, d=d, comment_text=comment)
    return {"mergeCommitId": oid}
