"""Usage routes: a repo's large files, listed and deleted to free space (`list_lfs_files`,
`permanently_delete_lfs_files`), and the site admins' usage view as JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from hugbox.deps import CallerDep, SessionDep, SettingsDep, StoreDep
from hugbox.errors import BadRequest, Forbidden
from hugbox.pagination import decode_cursor, paginate
from hugbox.plans.watch import limiter_of
from hugbox.repos.deps import WritableRepo
from hugbox.repos.schemas import iso
from hugbox.storage.blobs import is_sha256
from hugbox.usage import admin, storage
from hugbox.usage.schemas import AdminUsage, LFSFileInfo, LfsFilesBatch
from hugbox.wire import Empty, returns

router = APIRouter(tags=["usage"])
API = "/api/{repo_type:repotype}/{namespace}/{name}"
Days = Annotated[int, Query(description="rank requests by today (1), 7 or 30 days")]
Limit = Annotated[int, Query(ge=1, le=100)]


@router.get(API + "/lfs-files", **returns(list[LFSFileInfo]))
def list_lfs_files(
    request: Request, response: Response, repo: WritableRepo, session: SessionDep,
    store: StoreDep, settings: SettingsDep, cursor: str | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Its owners' view (write access): every large file the repo's history holds."""
    offset, size = decode_cursor(cursor), settings.list_page_size
    files = storage.large_files(session, store, repo)[offset : offset + size + 1]
    page = paginate(request, response, files, offset=offset, page_size=size)
    pushed = iso(repo.last_modified)
    return [
        {"fileOid": f.oid, "filename": f.path, "oid": f.oid, "pushedAt": pushed, "size": f.size}
        for f in page
    ]


@router.post(API + "/lfs-files/batch", **returns(Empty))
async def delete_lfs_files(
    body: LfsFilesBatch, repo: WritableRepo, session: SessionDep, store: StoreDep
) -> dict[str, Any]:
    oids = body.deletions.sha
    if not all(is_sha256(oid) for oid in oids):
        raise BadRequest("`deletions.sha` must hold sha256 object ids")
    await run_in_threadpool(storage.delete_lfs_files, session, store, repo, oids)
    return {}


@router.get("/api/admin/usage", **returns(AdminUsage))
def admin_usage(
    request: Request, session: SessionDep, caller: CallerDep, days: Days = 30, limit: Limit = 10
) -> dict[str, Any]:
    if not caller.is_admin:
        raise Forbidden("Only site admins can see the usage of the whole hub")
    view = admin.read_view(session, limiter_of(request), days=days, limit=limit)
    return admin.as_json(view)
