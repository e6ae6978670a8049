"""Routes that write: preupload, commit, branches and tags; plus refs and commit history."""

from __future__ import annotations

import base64
import binascii
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from hugbox.deps import BaseUrlDep, CallerDep, SessionDep, SettingsDep, StoreDep
from hugbox.edge import read_json
from hugbox.errors import BadRequest
from hugbox.names import check_revision
from hugbox.openapi import BINARY, request_body
from hugbox.pagination import decode_cursor, paginate
from hugbox.repos import commits, refs, schemas, service
from hugbox.repos.deps import ReadableRepo, WritableRepo
from hugbox.repos.hooks import HooksDep
from hugbox.repos.payload import CommitHeader, Operation, PayloadError, parse_commit_payload
from hugbox.repos.schemas import CommitInfo, GitCommitInfo, GitRefs, PreuploadResult
from hugbox.wire import Empty, returns

router = APIRouter()
API = "/api/{repo_type:repotype}/{namespace}/{name}"
BRANCH = {"type": "object", "properties": {"startingPoint": {"type": "string"}}}


class PreuploadItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    path: str
    size: int = Field(ge=0)
    sample: str = ""


class PreuploadBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    files: list[PreuploadItem]
    git_ignore: str | None = Field(default=None, alias="gitIgnore")


def _sample(item: PreuploadItem) -> bytes:
    try:
        return base64.b64decode(item.sample)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"Invalid base64 `sample` for {item.path}") from exc


@router.post(API + "/preupload/{revision}", **returns(PreuploadResult))
def preupload(
    body: PreuploadBody,
    repo: ReadableRepo,
    session: SessionDep,
    caller: CallerDep,
    store: StoreDep,
    settings: SettingsDep,
    hooks: HooksDep,
    revision: str,
    create_pr: Annotated[bool, Query()] = False,
) -> Any:
    # The author of an open PR uploads to its ref as a pull request's upload (spec §1.6).
    own_pr = commits.is_own_open_pr(session, caller, repo, unquote(revision))
    service.authorize_upload(session, caller, repo, create_pr=create_pr or own_pr)
    hooks.check_upload(session, repo, sum(f.size for f in body.files))
    files = [commits.PreuploadFile(f.path, f.size, _sample(f)) for f in body.files]
    commit_oid, modes = commits.preupload(
        session, store, repo=repo, revision=unquote(revision), files=files,
        git_ignore=body.git_ignore, inline=settings.preupload_mode == "inline",
    )  # fmt: skip
    return {
        "files": [
            {
                "path": m.path,
                "uploadMode": m.upload_mode,
                "shouldIgnore": m.should_ignore,
                "oid": m.oid,
            }
            for m in modes
        ],
        "commitOid": commit_oid,
    }


@router.post(
    API + "/commit/{revision}",
    openapi_extra=request_body(BINARY, "application/x-ndjson"),
    **returns(CommitInfo),
)
async def create_commit(
    request: Request,
    repo: ReadableRepo,
    session: SessionDep,
    caller: CallerDep,
    store: StoreDep,
    base: BaseUrlDep,
    revision: str,
    create_pr: Annotated[bool, Query()] = False,
) -> Any:
    revision = check_revision(unquote(revision))
    spool = Path(tempfile.mkdtemp(prefix="commit-", dir=store.tmp_dir))
    try:
        header, operations = await _read_payload(request, spool)
        info = await run_in_threadpool(
            commits.create_commit,
            session,
            store,
            caller=caller,
            repo=repo,
            revision=revision,
            header=header,
            operations=operations,
            create_pr=create_pr,
        )
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    repo_url = f"{base}/{repo.type.url_prefix}{repo.repo_id}"
    return {
        "success": True,
        "commitOid": info.oid,
        "commitUrl": f"{repo_url}/commit/{info.oid}",
        "hookOutput": "",
        "pullRequestUrl": f"{repo_url}/discussions/{info.pr_num}" if info.pr_num else None,
    }


async def _read_payload(request: Request, spool: Path) -> tuple[CommitHeader, list[Operation]]:
    header: CommitHeader | None = None
    operations: list[Operation] = []
    try:
        async for item in parse_commit_payload(request.stream(), spool):
            if isinstance(item, CommitHeader):
                header = item
            else:
                operations.append(item)
    except PayloadError as exc:
        raise BadRequest(f"Invalid commit payload: {exc}") from exc
    if header is None:
        raise BadRequest("Invalid commit payload: it is empty")
    return header, operations


# Read by hand: a body is optional, and read as JSON whatever its declared type (`curl -d`).
@router.post(
    API + "/branch/{branch:path}",
    openapi_extra=request_body(BRANCH, "application/json"),
    **returns(Empty),
)
async def create_branch(
    request: Request, repo: WritableRepo, session: SessionDep, store: StoreDep, branch: str
) -> Any:
    body = await _optional_json(request)
    start = body.get("startingPoint")
    await run_in_threadpool(
        refs.create_branch, session, store, repo=repo, branch=unquote(branch),
        starting_point=str(start) if start else None,
    )  # fmt: skip
    return {}


async def _optional_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    return body


@router.delete(API + "/branch/{branch:path}", **returns(Empty))
def delete_branch(repo: WritableRepo, session: SessionDep, store: StoreDep, branch: str) -> Any:
    refs.delete_branch(session, store, repo=repo, branch=unquote(branch))
    return {}


class SquashBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: str | None = None


@router.post(API + "/super-squash/{branch:path}", **returns(Empty))
def super_squash(
    body: SquashBody, repo: WritableRepo, session: SessionDep, store: StoreDep, caller: CallerDep,
    branch: str,
) -> Any:  # fmt: skip
    name = unquote(branch)
    message = body.message or f"Super-squash branch '{name}'"
    commits.super_squash(session, store, caller=caller, repo=repo, branch=name, message=message)
    return {}


class TagBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tag: str
    message: str | None = None


@router.post(API + "/tag/{revision:path}", **returns(Empty))
def create_tag(
    body: TagBody, repo: WritableRepo, session: SessionDep, store: StoreDep, caller: CallerDep,
    revision: str,
) -> Any:  # fmt: skip
    tagger = caller.user.name if caller.user else "hugbox"
    refs.create_tag(
        session, store, repo=repo, tag=body.tag, revision=unquote(revision),
        message=body.message, tagger=tagger,
    )  # fmt: skip
    return {}


@router.delete(API + "/tag/{tag:path}", **returns(Empty))
def delete_tag(repo: WritableRepo, session: SessionDep, store: StoreDep, tag: str) -> Any:
    refs.delete_tag(session, store, repo=repo, tag=unquote(tag))
    return {}


@router.get(API + "/refs", **returns(GitRefs))
def list_refs(repo: ReadableRepo, store: StoreDep, include_prs: bool = False) -> Any:
    return schemas.git_refs(refs.list_repo_refs(store, repo), include_prs=include_prs)


@router.get(API + "/commits/{revision:path}", **returns(list[GitCommitInfo]))
def list_commits(
    request: Request,
    response: Response,
    repo: ReadableRepo,
    store: StoreDep,
    revision: str,
    cursor: str | None = None,
    limit: int = 50,
) -> Any:
    formatted = "formatted" in request.query_params.getlist("expand[]") + (
        request.query_params.getlist("expand")
    )
    offset = decode_cursor(cursor)
    page_size = max(1, min(limit, 1000))
    items = []
    for index, commit in enumerate(refs.list_repo_commits(store, repo, unquote(revision))):
        if index >= offset + page_size + 1:
            break
        if index >= offset:
            items.append(commit)
    page = paginate(request, response, items, offset=offset, page_size=page_size)
    return [schemas.commit_item(c, formatted=formatted) for c in page]
