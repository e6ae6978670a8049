"""Routes that read files: tree listings, paths-info and `/resolve/` downloads."""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request, Response

from hugbox.db import Work
from hugbox.deps import (
    SessionDep,
    SettingsDep,
    StoreDep,
    get_settings,
    get_store,
    in_read_thread,
    run_read,
)
from hugbox.edge import read_json
from hugbox.errors import EntryNotFound
from hugbox.openapi import BINARY, request_body
from hugbox.pagination import decode_cursor, paginate
from hugbox.repos import content, downloads, schemas
from hugbox.repos.deps import ReadableRepo, RepoLoader
from hugbox.repos.hooks import HooksDep, hooks_of
from hugbox.repos.models import RepoFields
from hugbox.repos.schemas import TreeEntry
from hugbox.repos.service import Need
from hugbox.routing import PlainRoute
from hugbox.wire import returns

router = APIRouter()
API = "/api/{repo_type:repotype}/{namespace}/{name}"
FILE_PREFIXES = ("", "/{repo_type:prefixtype}")


def _tree(
    request: Request,
    response: Response,
    repo: ReadableRepo,
    store: StoreDep,
    settings: SettingsDep,
    session: SessionDep,
    hooks: HooksDep,
    revision: str,
    path: str = "",
    recursive: bool = False,
    expand: bool = False,
    cursor: str | None = None,
) -> list[dict[str, Any]]:
    gitrepo = store.reader(repo)
    commit = content.resolve_revision(gitrepo, unquote(revision))
    entries = content.list_tree(gitrepo, commit, unquote(path), recursive=recursive)
    page_size = 50 if expand else settings.tree_page_size
    offset = decode_cursor(cursor)
    page = paginate(request, response, entries[offset:], offset=offset, page_size=page_size)
    if expand:
        page = content.with_last_commits(gitrepo, commit, page)
    items = [schemas.tree_entry(entry) for entry in page]
    return hooks.listed(request, session, repo, items)


for _path in (f"{API}/tree/{{revision}}", f"{API}/tree/{{revision}}/{{path:path}}"):
    router.add_api_route(_path, _tree, methods=["GET"], **returns(list[TreeEntry]))


PATHS = {"type": "array", "items": {"type": "string"}}
PATHS_INFO = {"type": "object", "properties": {"paths": PATHS, "expand": {"type": "boolean"}}}
FORM, JSON = "application/x-www-form-urlencoded", "application/json"


@router.post(
    f"{API}/paths-info/{{revision}}",
    openapi_extra=request_body(PATHS_INFO, FORM, JSON),
    **returns(list[TreeEntry]),
)
async def paths_info(
    request: Request, repo: ReadableRepo, store: StoreDep, session: SessionDep, hooks: HooksDep,
    revision: str,
) -> Any:  # fmt: skip
    """Form-encoded (`paths=a&paths=b&expand=false`) by huggingface_hub; JSON also accepted."""
    paths, expand = await _paths_info_body(request)
    gitrepo = store.reader(repo)
    commit = content.resolve_revision(gitrepo, unquote(revision))
    entries = content.paths_info(gitrepo, commit, paths)
    if expand:
        entries = content.with_last_commits(gitrepo, commit, entries)
    items = [schemas.tree_entry(entry) for entry in entries]
    return hooks.listed(request, session, repo, items)


async def _paths_info_body(request: Request) -> tuple[list[str], bool]:
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await read_json(request)
        body = body if isinstance(body, dict) else {}
        paths = body.get("paths") or []
        return [str(p) for p in paths] if isinstance(paths, list) else [], bool(body.get("expand"))
    form = await request.form()
    paths = [str(p) for p in form.getlist("paths") + form.getlist("paths[]")]
    return paths, str(form.get("expand", "false")).lower() == "true"


async def resolve_file(request: Request, revision: str, path: str) -> Response:
    """What `hf_hub_download` and `from_pretrained` send for each file (a HEAD, then a GET)."""
    # Async, with all the blocking work (the repo's row, access, git) in one `run_read`. A GET
    # reads the file's bytes and may count the download (a write): it always takes a thread.
    load = RepoLoader(request, Need.DOWNLOAD)
    read = partial(_resolve_file, request, load, revision, path)
    if request.method == "HEAD":
        return await run_read(request, read)
    return await in_read_thread(request, read)


def _resolve_file(request: Request, load: RepoLoader, revision: str, path: str) -> Response:
    with load() as (repo, work):
        return _file_response(request, work, repo, unquote(revision), unquote(path))


def _file_response(
    request: Request, work: Work, repo: RepoFields, revision: str, path: str
) -> Response:
    store = get_store(request)
    revision, path = content.split_special_ref(revision, path)
    gitrepo = store.reader(repo)
    commit = content.resolve_revision(gitrepo, revision)
    file = content.get_file(gitrepo, commit, path)
    # A query string is rare here (clients send none): parse it only when there is one.
    attachment = bool(request.scope["query_string"]) and _asks_download(request)
    headers = downloads.file_headers(file, str(commit.id), attachment=attachment)
    hooks_of(request).download(request, repo, path)
    if file.lfs is None and request.method == "HEAD" and "range" not in request.headers:
        return downloads.size_response(file.size, headers)
    if file.lfs is None:
        return downloads.bytes_response(request, content.read_blob(gitrepo, file.blob_id), headers)
    headers.update(hooks_of(request).headers(request, work, repo, file.lfs.oid, str(commit.id)))
    redirect = get_settings(request).blob_redirects
    response = downloads.blob_response(
        request, store.blobs, file.lfs.oid, headers, redirect=redirect
    )
    if response is None:
        raise EntryNotFound(f"The content of {path} is missing from storage", commit=str(commit.id))
    return response


def _asks_download(request: Request) -> bool:
    """`?download=true`: the web page's download button (HF's parameter)."""
    return request.query_params.get("download", "").lower() in ("1", "true")


BYTES = {"application/octet-stream": {"schema": BINARY}}
FILE_ANSWERS: dict[str, dict[int | str, Any]] = {
    "GET": {
        200: {"description": "The file's bytes", "content": BYTES},
        206: {"description": "The range asked for", "content": BYTES},
        416: {"description": "A range outside the file"},
    },
    "HEAD": {200: {"description": "The file's headers (X-Repo-Commit, ETag, X-Linked-Size…)"}},
}

# One route per method: a route's operation id names one method, and ids must be unique.
for _prefix in FILE_PREFIXES:
    for _method, _answers in FILE_ANSWERS.items():
        router.add_api_route(
            f"{_prefix}/{{namespace}}/{{name}}/resolve/{{revision}}/{{path:path}}",
            resolve_file,
            methods=[_method],
            response_class=Response,
            responses=_answers,
            route_class_override=PlainRoute,
        )
