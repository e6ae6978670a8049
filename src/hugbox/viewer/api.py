"""The dataset viewer API (HF's datasets-server): under /datasets-server/ on the hub, and at the
root of any request whose Host is `datasets-server.<hub host>` (where `datasets` looks)."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, unquote

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from hugbox.auth.service import authenticate
from hugbox.deps import SessionDep, bearer_token
from hugbox.errors import HubError
from hugbox.openapi import query_parameters
from hugbox.pagination import MAX_OFFSET
from hugbox.repos import service as repos
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.service import Moved, Need
from hugbox.urls import base_url
from hugbox.viewer import manifest, service
from hugbox.viewer.cells import AssetUrl
from hugbox.viewer.errors import (
    ExternalAuthenticated,
    ExternalUnauthenticated,
    InvalidParameter,
    MissingRequiredParameter,
)
from hugbox.viewer.models import ViewerExport
from hugbox.viewer.schemas import (
    FirstRowsResponse,
    InfoResponse,
    IsValidResponse,
    PaginatedResponse,
    ParquetResponse,
    SizeResponse,
    SplitsResponse,
    StatisticsResponse,
)
from hugbox.viewer.service import Viewer
from hugbox.wire import returns

PREFIX = "/datasets-server"
# The query parameters each route reads itself, for the OpenAPI document (hugbox.openapi).
SPLIT = ("dataset", "config", "split")
PAGE = ("offset", "length")
FILTER = ("where", "orderby", *PAGE)
RowT = TypeVar("RowT", Repo, ViewerExport)
HOST_PREFIX = b"datasets-server."
router = APIRouter(prefix=PREFIX)
MAX_LENGTH = 100


class DatasetsServerHostMiddleware:
    """`Host: datasets-server.<hub>` → the same routes under /datasets-server/."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"")
            if host.startswith(HOST_PREFIX) and not scope["path"].startswith(PREFIX + "/"):
                path = PREFIX + scope["path"]
                raw = PREFIX.encode() + (scope.get("raw_path") or scope["path"].encode())
                scope.update(path=path, raw_path=raw)  # in place: see HubPathMiddleware
        await self.app(scope, receive, send)


async def get_viewer(request: Request) -> Viewer:  # async: no thread hop for a lookup
    return _viewer_of(request)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def _query(*required: str, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return query_parameters(required, optional, integers=PAGE)


def _param(request: Request, name: str, required: bool = True) -> str | None:
    value = request.query_params.get(name)
    if not value:
        if required:
            raise MissingRequiredParameter(f"Parameter '{name}' is required")
        return None
    return value


def _int(request: Request, name: str, default: int, maximum: int = MAX_OFFSET) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameter(f"Parameter '{name}' must be an integer") from None
    if value < 0 or value > maximum:  # unbounded, an offset would overflow SQL's 64 bits
        raise InvalidParameter(f"Parameter '{name}' must be positive and at most {maximum}")
    return value


def load_dataset_repo(request: Request, session: Session) -> Repo:
    """The dataset named by `dataset=`, if the caller's token may read its content; HF's
    viewer errors otherwise (401 without a token, 404 with one)."""
    dataset = _param(request, "dataset")
    assert dataset is not None
    token = bearer_token(request)
    try:
        caller = authenticate(session, token)
        found = repos.find_repo(session, RepoType.DATASET, dataset)
        repo = found.repo if isinstance(found, Moved) else found
        if repo is None:
            raise ExternalAuthenticated()
        repos.authorize(session, caller, repo, Need.DOWNLOAD)
        request.app.state.repo_hooks.check_access(session, caller, repo)  # an org's "require SSO"
        return repo
    except HubError as exc:
        if token is None or exc.status_code == 401:
            raise ExternalUnauthenticated() from exc
        raise ExternalAuthenticated() from exc


def load_with_export(
    request: Request, session: Session, viewer: Viewer
) -> tuple[Repo, ViewerExport]:
    """The dataset and its export, remembered for a second per token (see auth/recent.py)."""
    key = viewer.recent.key(bearer_token(request), request.query_params.get("dataset", ""))
    found = viewer.recent.get(key)
    if found is not None:
        repo, export = found
        return repo, export
    repo = load_dataset_repo(request, session)
    export = service.load_export(session, repo)
    # Copies outside any session: a rollback later in this request expires the originals.
    found = (_columns_only(repo), _columns_only(export))
    viewer.recent.put(key, found)
    return found


def _columns_only(row: RowT) -> RowT:
    mapper = sa_inspect(type(row))
    return type(row)(**{attr.key: getattr(row, attr.key) for attr in mapper.column_attrs})


def _json(body: Any, revision: str | None = None) -> Response:
    headers = {
        "Cache-Control": "max-age=120",
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": "X-Error-Code, X-Revision",
    }
    if revision:
        headers["X-Revision"] = revision
    data = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS, default=str)
    return Response(data, media_type="application/json", headers=headers)


def _asset_url(request: Request, repo: Repo, config: str, split: str) -> AssetUrl:
    where = f"{quote(config, safe='')}/{quote(split, safe='')}"
    root = f"{base_url(request)}{PREFIX}/assets/{repo.repo_id}/--/{where}"

    def url(row_idx: int, column: str, name: str) -> str:
        return f"{root}/{row_idx}/{quote(column, safe='')}/{quote(name, safe='')}"

    return url


def _split_params(request: Request) -> tuple[str, str]:
    config, split = _param(request, "config"), _param(request, "split")
    assert config is not None and split is not None
    return config, split


@router.get(
    "/is-valid",
    openapi_extra=_query("dataset", optional=("config", "split")),
    **returns(IsValidResponse),
)
def is_valid(request: Request, session: SessionDep) -> Response:
    repo = load_dataset_repo(request, session)
    config = _param(request, "config", required=False)
    split = _param(request, "split", required=False) if config else None
    return _json(service.is_valid(session, repo, config, split), repo.head_sha)


@router.get(
    "/splits", openapi_extra=_query("dataset", optional=("config",)), **returns(SplitsResponse)
)
def splits(request: Request, session: SessionDep) -> Response:
    repo = load_dataset_repo(request, session)
    body = service.splits(session, repo, _param(request, "config", required=False))
    return _json(body, service.load_export(session, repo).revision)


def _export_answer(request: Request, session: Session, answer: Callable[..., Any]) -> Response:
    repo, export = load_with_export(request, session, _viewer_of(request))
    return _json(answer(export, repo), export.revision)


def _viewer_of(request: Request) -> Viewer:
    viewer: Viewer = request.app.state.viewer
    return viewer


@router.get("/first-rows", openapi_extra=_query(*SPLIT), **returns(FirstRowsResponse))
def first_rows(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    config, split = _split_params(request)

    def answer(export: Any, repo: Repo) -> Any:
        url = _asset_url(request, repo, config, split)
        return service.first_rows(viewer, export, repo, config, split, url)

    return _export_answer(request, session, answer)


@router.get("/rows", openapi_extra=_query(*SPLIT, optional=PAGE), **returns(PaginatedResponse))
def rows(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    config, split = _split_params(request)
    offset = _int(request, "offset", 0)
    length = _int(request, "length", MAX_LENGTH, MAX_LENGTH)

    def answer(export: Any, repo: Repo) -> Any:
        url = _asset_url(request, repo, config, split)
        return service.page(
            viewer, export, config, split, offset=offset, length=length, asset_url=url
        )

    return _export_answer(request, session, answer)


@router.get(
    "/search", openapi_extra=_query(*SPLIT, "query", optional=PAGE), **returns(PaginatedResponse)
)
def search(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    config, split = _split_params(request)
    query = _param(request, "query")
    assert query is not None
    offset = _int(request, "offset", 0)
    length = _int(request, "length", MAX_LENGTH, MAX_LENGTH)

    repo, export = load_with_export(request, session, viewer)
    url = _asset_url(request, repo, config, split)
    body = service.search(
        session, viewer, repo, export, config, split,
        query=query, offset=offset, length=length, asset_url=url,
    )  # fmt: skip
    return _json(body, export.revision)


@router.get("/filter", openapi_extra=_query(*SPLIT, optional=FILTER), **returns(PaginatedResponse))
def filter_rows(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    config, split = _split_params(request)
    where = _param(request, "where", required=False)
    orderby = _param(request, "orderby", required=False)
    offset = _int(request, "offset", 0)
    length = _int(request, "length", MAX_LENGTH, MAX_LENGTH)

    repo, export = load_with_export(request, session, viewer)
    url = _asset_url(request, repo, config, split)
    body = service.filter_split(
        session, viewer, repo, export, config, split,
        where=where, orderby=orderby, offset=offset, length=length, asset_url=url,
    )  # fmt: skip
    return _json(body, export.revision)


@router.get(
    "/parquet", openapi_extra=_query("dataset", optional=("config",)), **returns(ParquetResponse)
)
def parquet(request: Request, session: SessionDep) -> Response:
    config = _param(request, "config", required=False)
    url = base_url(request)
    return _export_answer(
        request, session, lambda export, repo: manifest.parquet_files(export, repo, config, url)
    )


@router.get("/info", openapi_extra=_query("dataset", optional=("config",)), **returns(InfoResponse))
def info(request: Request, session: SessionDep) -> Response:
    config = _param(request, "config", required=False)
    return _export_answer(request, session, lambda e, r: manifest.info(e, r, config))


@router.get("/size", openapi_extra=_query("dataset", optional=("config",)), **returns(SizeResponse))
def size(request: Request, session: SessionDep) -> Response:
    config = _param(request, "config", required=False)
    return _export_answer(request, session, lambda e, r: manifest.size(e, r, config))


@router.get("/statistics", openapi_extra=_query(*SPLIT), **returns(StatisticsResponse))
def statistics(request: Request, session: SessionDep) -> Response:
    config, split = _split_params(request)
    return _export_answer(request, session, lambda e, r: manifest.statistics(e, config, split))


@router.get(
    "/assets/{namespace}/{name}/--/{config}/{split}/{row_idx}/{column}/{filename}",
    response_class=Response,
)
def asset(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    params = {k: unquote(v) for k, v in request.path_params.items()}
    scope = dict(
        request.scope, query_string=f"dataset={params['namespace']}/{params['name']}".encode()
    )
    repo = load_dataset_repo(Request(scope), session)
    export = service.load_export(session, repo)
    if not params["row_idx"].isdigit():
        raise InvalidParameter("The row index must be a number")
    data = service.asset(
        viewer, export, params["config"], params["split"], int(params["row_idx"]), params["column"]
    )
    kind = mimetypes.guess_type(params["filename"])[0] or "application/octet-stream"
    return Response(data, media_type=kind, headers={"Cache-Control": "max-age=3600"})
