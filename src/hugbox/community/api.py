"""Discussions and pull requests: enough for `create_pr` flows and listing them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hugbox.community import schemas
from hugbox.deps import CallerDep, SessionDep, StoreDep
from hugbox.errors import NotFound
from hugbox.pagination import MAX_OFFSET
from hugbox.repos import commits, refs
from hugbox.repos.deps import ContributableRepo, ReadableRepo
from hugbox.repos.models import Discussion, Repo
from hugbox.repos.schemas import iso
from hugbox.wire import returns

router = APIRouter()
API = "/api/{repo_type:repotype}/{namespace}/{name}"


class NewDiscussion(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    title: str = Field(min_length=1, max_length=500)
    description: str = ""
    pull_request: bool = Field(default=False, alias="pullRequest")


@router.post(API + "/discussions", **returns(schemas.Discussion))
def create_discussion(
    body: NewDiscussion, repo: ContributableRepo, session: SessionDep, caller: CallerDep,
    store: StoreDep,
) -> Any:  # fmt: skip
    num = commits.open_discussion(
        session, repo=repo, caller=caller, title=body.title, description=body.description,
        is_pull_request=body.pull_request,
    )  # fmt: skip
    if body.pull_request:  # a PR opened without commits starts at main, as on HF
        refs.create_pr_ref(session, store, repo=repo, num=num)
    return _discussion(repo, _get(session, repo, num))


def _get(session: SessionDep, repo: Repo, num: int) -> Discussion:
    if not 0 < num <= MAX_OFFSET:  # SQLite cannot even bind a number past 64 bits
        raise NotFound(f"Discussion #{num} not found")
    found = session.scalar(
        select(Discussion).where(Discussion.repo_pk == repo.pk, Discussion.num == num)
    )
    if found is None:
        raise NotFound(f"Discussion #{num} not found")
    return found


def _discussion(repo: Repo, d: Discussion) -> dict[str, Any]:
    return {
        "num": d.num,
        "title": d.title,
        "status": d.status,
        "isPullRequest": d.is_pull_request,
        "createdAt": iso(d.created_at),
        "author": {"name": d.author.name if d.author else "deleted"},
        "repo": {"name": repo.repo_id, "type": repo.type.value},
        "pinned": False,
        "numComments": 0,
        "topReactions": [],
    }


# Pages of 50: a page past MAX_OFFSET would overflow the SQL offset.
PageNumber = Annotated[int, Query(ge=0, le=MAX_OFFSET // 50)]


@router.get(API + "/discussions", **returns(schemas.DiscussionPage))
def list_discussions(repo: ReadableRepo, session: SessionDep, p: PageNumber = 0) -> Any:
    rows = list(
        session.scalars(
            select(Discussion)
            .where(Discussion.repo_pk == repo.pk)
            .order_by(Discussion.num.desc())
            .offset(p * 50)
            .limit(50)
        )
    )
    return {
        "discussions": [_discussion(repo, d) for d in rows],
        "count": len(rows),
        "start": p * 50,
    }


@router.get(API + "/discussions/{num}", **returns(schemas.DiscussionWithDetails))
def get_discussion(repo: ReadableRepo, session: SessionDep, num: int) -> Any:
    found = _get(session, repo, num)
    detail = _discussion(repo, found)
    detail.update(
        events=[],
        changes={"base": "refs/heads/main"} if found.is_pull_request else None,
        filesWithConflicts=[],
        diff="",
    )
    return detail
