"""Routes for repos themselves: info, listing, create, delete, move, settings, card validation."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from hugbox.auth.service import Caller
from hugbox.deps import (
    BaseUrlDep,
    CallerDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    get_store,
    run_read,
)
from hugbox.error_responses import ErrorBody
from hugbox.errors import BadRequest, RepoNotFound
from hugbox.pagination import decode_cursor, paginate
from hugbox.repos import cards, content, duplicate, indexer, schemas, service
from hugbox.repos.deps import (
    DownloadableRepo,
    ReadableRepo,
    RepoLoader,
    WritableRepo,
)
from hugbox.repos.expand import check_expand
from hugbox.repos.hooks import HooksDep, RepoHooks, hooks_of
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.schemas import AgentHarnessRegistry, AnyRepoInfo, CardValidation, RepoUrl
from hugbox.repos.service import Need, RepoQuery
from hugbox.routing import PlainRoute
from hugbox.wire import Empty, json_response, returns

router = APIRouter()
API = "/api/{repo_type:repotype}/{namespace}/{name}"


def _listable(values: list[str] | None) -> list[str]:
    return [v for value in values or [] for v in value.split(",") if v]


@router.get("/api/{repo_type:repotype}", **returns(list[AnyRepoInfo]))
def list_repos(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    repo_type: RepoType,
    search: Annotated[list[str] | None, Query()] = None,
    author: str | None = None,
    filter: Annotated[list[str] | None, Query()] = None,
    sort: str | None = None,
    limit: int | None = None,
    full: bool = False,
    cardData: bool = False,
    pipeline_tag: str | None = None,
    gated: bool | None = None,
    cursor: str | None = None,
    expand: Annotated[list[str] | None, Query()] = None,
) -> list[dict[str, Any]]:
    wanted = _listable(expand)
    check_expand(repo_type, wanted)
    query = RepoQuery(
        repo_type=repo_type,
        search=search or [],
        author=author,
        filters=tuple(_listable(filter)),
        sort=sort,
        gated=gated,
        pipeline_tag=pipeline_tag,
    )
    offset = decode_cursor(cursor)
    page_size = max(1, min(limit or settings.list_page_size, settings.list_page_size))
    hidden = request.app.state.repo_hooks.unreachable_orgs(session, caller)
    repos = service.list_repos(
        session,
        caller=caller,
        hidden_owners=hidden,
        query=query,
        offset=offset,
        page_size=page_size + 1,
    )
    page = paginate(request, response, repos, offset=offset, page_size=page_size)
    summaries = [_summary(repo, full=full, card=cardData) for repo in page]
    return [schemas.only_expanded(summary, wanted) for summary in summaries]


def _summary(repo: Repo, *, full: bool, card: bool) -> dict[str, Any]:
    info = schemas.repo_summary(repo)
    if card or full:
        info["cardData"] = repo.card_data
    return info


def _repo_info(
    request: Request, load: RepoLoader, revision: str, expand: list[str], blobs: bool
) -> dict[str, Any]:
    wanted = _listable(expand)
    with load() as (repo, work):
        check_expand(repo.type, wanted)
        gitrepo = get_store(request).reader(repo)
        commit = content.resolve_revision(gitrepo, revision)
        described = indexer.describe(gitrepo, repo.type, commit)
        info = schemas.repo_info(
            repo,
            sha=str(commit.id),
            last_modified=described.date,
            snap=described.snapshot,
            siblings=described.files,
            blobs=blobs,
        )
        # What other parts add (a space's `host` and `runtime`, where gradio_client finds it).
        info.update(hooks_of(request).info(request, work, repo))
    return schemas.only_expanded(info, wanted)


# Async, with all the blocking work (the repo's row, access, git) in one `run_read`: `model_info`
# is among the most frequent calls, and a thread hop costs about as much as its work. The info
# is plain JSON, sent as it is (`wire.json_response`).
async def repo_info(
    request: Request,
    expand: Annotated[list[str] | None, Query()] = None,
    blobs: bool = False,
) -> Response:
    load = RepoLoader(request, Need.READ)
    info = partial(_repo_info, request, load, "main", expand or [], blobs)
    return json_response(await run_read(request, info))


async def repo_info_at(
    request: Request,
    revision: str,
    expand: Annotated[list[str] | None, Query()] = None,
    blobs: bool = False,
) -> Response:
    load = RepoLoader(request, Need.READ)
    info = partial(_repo_info, request, load, unquote(revision), expand or [], blobs)
    return json_response(await run_read(request, info))


for _path, _info in ((API, repo_info), (API + "/revision/{revision:path}", repo_info_at)):
    router.add_api_route(
        _path, _info, methods=["GET"], route_class_override=PlainRoute, **returns(AnyRepoInfo)
    )


class SpaceOptions(BaseModel):
    """What `create_repo` and `duplicate_repo` may say of a space."""

    model_config = ConfigDict(extra="ignore")

    hardware: str | None = None
    sleepTimeSeconds: int | None = None
    secrets: list[dict[str, Any]] = Field(default_factory=list)
    variables: list[dict[str, Any]] = Field(default_factory=list)


def _configure(session: SessionDep, hooks: RepoHooks, repo: Repo, options: SpaceOptions) -> None:
    """Hand the options to the parts that own them (spaces: hardware, sleep, secrets, variables)."""
    sent = options.model_dump(include=set(SpaceOptions.model_fields), exclude_unset=True)
    for configure in hooks.configure:
        configure(session, repo, sent)


class CreateRepoBody(SpaceOptions):
    name: str
    organization: str | None = None
    type: RepoType = RepoType.MODEL
    visibility: str | None = None
    private: bool | None = None
    sdk: str | None = None


@router.post("/api/repos/create", **returns(RepoUrl))
def create_repo(
    body: CreateRepoBody, session: SessionDep, caller: CallerDep, store: StoreDep, base: BaseUrlDep,
    hooks: HooksDep,
) -> Any:  # fmt: skip
    namespace, name = body.organization, body.name
    if "/" in name:  # some clients send the full id as `name`
        namespace, _, name = name.partition("/")
    private = body.private if body.visibility is None else body.visibility != "public"
    repo = service.create_repo(
        session, store, caller=caller, repo_type=body.type, namespace=namespace, name=name,
        private=bool(private), sdk=body.sdk,
    )  # fmt: skip
    _configure(session, hooks, repo, body)
    url = f"{base}/{repo.type.url_prefix}{repo.repo_id}"
    return {"url": url, "name": repo.repo_id, "id": f"{repo.type.value}-{repo.pk}"}


class DuplicateBody(SpaceOptions):
    repository: str
    visibility: str | None = None
    private: bool | None = None


@router.post(API + "/duplicate", **returns(RepoUrl))
def duplicate_repo(
    repo: DownloadableRepo, body: DuplicateBody, session: SessionDep, caller: CallerDep,
    store: StoreDep, base: BaseUrlDep, hooks: HooksDep,
) -> Any:  # fmt: skip
    private = body.private if body.visibility is None else body.visibility != "public"
    copy = duplicate.duplicate_repo(
        session, store, caller=caller, source=repo, to_id=body.repository,
        private=repo.private if private is None else private,
    )  # fmt: skip
    for copied in hooks.copied:
        copied(session, repo, copy)
    _configure(session, hooks, copy, body)
    return {"url": f"{base}/{copy.type.url_prefix}{copy.repo_id}"}


class RepoRefBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    organization: str | None = None
    type: RepoType = RepoType.MODEL


def _writable(
    request: Request, session: SessionDep, caller: CallerDep, repo_type: RepoType, repo_id: str
) -> Repo:
    found = service.find_repo(session, repo_type, repo_id)
    if not isinstance(found, Repo):
        raise RepoNotFound(anonymous=caller.anonymous)
    service.authorize(session, caller, found, Need.WRITE)
    request.app.state.repo_hooks.check_access(session, caller, found)  # an org's "require SSO"
    return found


@router.delete("/api/repos/delete", **returns(Empty))
def delete_repo(
    request: Request, body: RepoRefBody, session: SessionDep, caller: CallerDep, store: StoreDep
) -> Any:
    namespace = body.organization or (caller.user.name if caller.user else "")
    repo_id = body.name if "/" in body.name else f"{namespace}/{body.name}"
    repo = _writable(request, session, caller, body.type, repo_id)
    service.delete_repo(session, store, repo=repo, actor=_name(caller))
    return {}


class MoveBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    from_repo: str = Field(alias="fromRepo")
    to_repo: str = Field(alias="toRepo")
    type: RepoType = RepoType.MODEL


@router.post("/api/repos/move", **returns(Empty))
def move_repo(request: Request, body: MoveBody, session: SessionDep, caller: CallerDep) -> Any:
    repo = _writable(request, session, caller, body.type, body.from_repo)
    service.move_repo(session, caller=caller, repo=repo, to_repo_id=body.to_repo)
    return {}


class SettingsBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    private: bool | None = None
    visibility: str | None = None
    gated: bool | str | None = None


@router.put(API + "/settings", **returns(Empty))
def update_settings(
    body: SettingsBody, repo: WritableRepo, session: SessionDep, caller: CallerDep
) -> Any:
    private = body.private if body.visibility is None else body.visibility != "public"
    if body.gated is True:
        raise BadRequest("`gated` must be false, 'auto' or 'manual'")
    service.update_settings(
        session, repo=repo, private=private, gated=body.gated, actor=_name(caller)
    )
    return {}


def _name(caller: Caller) -> str | None:
    return caller.user.name if caller.user else None


@router.get(API + "/auth-check", **returns(Empty, description="The caller may download"))
def auth_check(request: Request, repo: ReadableRepo, session: SessionDep, caller: CallerDep) -> Any:
    service.authorize(session, caller, repo, Need.DOWNLOAD, repo_url=str(request.base_url))
    return {}


@router.get(API + "/auth-check/write", **returns(Empty, description="The caller may write"))
def auth_check_write(repo: WritableRepo) -> Any:
    return {}


class ValidateYamlBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    content: str = ""
    repo_type: str = Field(default="model", alias="repoType")


# Valid (200) or not (400), the answer has the same shape; a body that is no card is an error.
VALIDATION = returns(CardValidation, description="The metadata is valid")
VALIDATION["responses"][400] = {
    "model": CardValidation | ErrorBody,
    "description": "The metadata is not valid, or the request is not a card",
}


@router.post("/api/validate-yaml", **VALIDATION)
def validate_yaml(body: ValidateYamlBody) -> Any:
    """Always JSON: the client reads the body before it looks at the status."""
    try:
        metadata = cards.parse_front_matter(body.content)
    except cards.CardError as exc:
        return JSONResponse({"errors": [{"message": str(exc)}], "warnings": []}, status_code=400)
    if metadata is None or not metadata:
        warning = {"message": "empty or missing yaml metadata in repo card"}
        return {"errors": [], "warnings": [warning]}
    errors = [{"message": message} for message in cards.validate_metadata(metadata)]
    return JSONResponse({"errors": errors, "warnings": []}, status_code=400 if errors else 200)


@router.get("/api/agent-harnesses", **returns(AgentHarnessRegistry))
def agent_harnesses() -> Any:
    return {"standardEnvVars": [], "harnesses": {}}
