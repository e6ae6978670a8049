"""The git-lfs HTTP API: batch, signed transfers (single PUT and HF multipart), verify, locks."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hugbox.auth.service import Caller
from hugbox.deps import BaseUrlDep, SessionDep, SettingsDep, StoreDep
from hugbox.edge import read_json
from hugbox.errors import AuthenticationRequired, BadRequest, EntryNotFound, Forbidden
from hugbox.repos import access, lfs
from hugbox.repos.deps import BASIC_CHALLENGE, ReadableRepo, asking_for_basic, load_repo_for_git
from hugbox.repos.downloads import blob_response
from hugbox.repos.models import Repo
from hugbox.repos.service import Need, authorize
from hugbox.repos.signing import UrlSigner
from hugbox.storage.blobs import is_sha256

router = APIRouter()
LFS_JSON = "application/vnd.git-lfs+json"
PREFIXES = ("", "/{repo_type:prefixtype}")


def _signer(request: Request) -> UrlSigner:
    signer: UrlSigner = request.app.state.signer
    return signer


def _lfs_json(body: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, media_type=LFS_JSON)


def _lfs_repo(request: Request, session: SessionDep) -> tuple[Repo, Caller]:
    # git-lfs, like git, sends Basic credentials only once a 401 asks for them.
    return load_repo_for_git(request, session, Need.READ)


LfsRepo = Annotated[tuple[Repo, Caller], Depends(_lfs_repo)]


async def batch(
    request: Request,
    found: LfsRepo,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    base: BaseUrlDep,
) -> Response:
    body = await read_json(request)
    if not isinstance(body, dict) or body.get("operation") not in ("upload", "download"):
        raise BadRequest("LFS batch `operation` must be 'upload' or 'download'")
    objects = lfs.parse_objects(body.get("objects"))
    repo, caller = found
    signer = _signer(request)
    if body["operation"] == "download":
        with asking_for_basic():  # a gated repo: anonymous git-lfs must be asked to log in
            authorize(session, caller, repo, Need.DOWNLOAD)
        items = [_download_item(store, signer, base, o) for o in objects]
        return _lfs_json({"transfer": "basic", "objects": items})
    _check_upload(caller, repo)
    multipart = "multipart" in (body.get("transfers") or [])
    chunk = settings.lfs_multipart_chunk_size
    items = [
        _upload_item(store, signer, base, repo, o, chunk if multipart else None) for o in objects
    ]
    transfer = "multipart" if multipart else "basic"
    return _lfs_json({"transfer": transfer, "objects": items})


def _check_upload(caller: Caller, repo: Repo) -> None:
    if caller.user is None:
        raise AuthenticationRequired(headers=BASIC_CHALLENGE)
    # Read access is enough to upload objects for a pull request; a commit still needs rights.
    if not (access.can_write(caller, repo) or access.can_read(caller, repo)):
        raise Forbidden("Uploading LFS objects needs a token with access to the repo")


def _error(obj: lfs.LfsObject, code: int, message: str) -> dict[str, Any]:
    return {"oid": obj.oid, "size": obj.size, "error": {"code": code, "message": message}}


def _download_item(
    store: StoreDep, signer: UrlSigner, base: str, obj: lfs.LfsObject
) -> dict[str, Any]:
    if not is_sha256(obj.oid) or store.blobs.size(obj.oid) != obj.size:
        return _error(obj, 404, f"Object {obj.oid} does not exist")
    query = urlencode(signer.sign("get", obj.oid))
    href = f"{base}/api/lfs/objects/{obj.oid}?{query}"
    return {"oid": obj.oid, "size": obj.size, "actions": {"download": {"href": href}}}


def _upload_item(
    store: StoreDep,
    signer: UrlSigner,
    base: str,
    repo: Repo,
    obj: lfs.LfsObject,
    chunk_size: int | None,
) -> dict[str, Any]:
    if not is_sha256(obj.oid):
        return _error(obj, 422, f"Invalid oid {obj.oid!r}: expected a sha256")
    if store.blobs.exists(obj.oid):
        return {"oid": obj.oid, "size": obj.size}
    verify = {"href": f"{base}/api/{repo.type.value}s/{repo.repo_id}/lfs-verify"}
    if chunk_size is None or obj.size <= chunk_size:
        query = urlencode({"size": obj.size, **signer.sign("put", obj.oid, obj.size)})
        upload = {"href": f"{base}/api/lfs/objects/{obj.oid}?{query}"}
    else:
        upload = _multipart_actions(signer, base, obj, chunk_size)
    return {"oid": obj.oid, "size": obj.size, "actions": {"upload": upload, "verify": verify}}


def _multipart_actions(
    signer: UrlSigner, base: str, obj: lfs.LfsObject, chunk_size: int
) -> dict[str, Any]:
    header: dict[str, Any] = {"chunk_size": str(chunk_size)}
    for part in range(1, lfs.part_count(obj.size, chunk_size) + 1):
        signed = signer.sign("part", obj.oid, obj.size, chunk_size, part)
        query = urlencode({"size": obj.size, "chunk": chunk_size, **signed})
        header[str(part)] = f"{base}/api/lfs/multipart/{obj.oid}/{part}?{query}"
    query = urlencode({"size": obj.size, **signer.sign("complete", obj.oid, obj.size)})
    return {"href": f"{base}/api/lfs/multipart/{obj.oid}?{query}", "header": header}


@router.put("/api/lfs/objects/{oid}")
async def put_object(
    request: Request, store: StoreDep, oid: str, size: int, exp: str, sig: str
) -> Any:
    _signer(request).check("put", oid, size, exp=exp, sig=sig)
    await lfs.receive_object(store.blobs, request.stream(), oid=oid, size=size)
    return Response(status_code=200)


@router.get("/api/lfs/objects/{oid}")
def get_object(request: Request, store: StoreDep, oid: str, exp: str, sig: str) -> Response:
    _signer(request).check("get", oid, exp=exp, sig=sig)
    response = blob_response(request, store.blobs, oid, {"ETag": f'"{oid}"'})
    if response is None:
        raise EntryNotFound(f"Object {oid} does not exist")
    return response


@router.put("/api/lfs/multipart/{oid}/{part}")
async def put_part(
    request: Request, store: StoreDep, oid: str, part: int, size: int, chunk: int, exp: str,
    sig: str,
) -> Response:  # fmt: skip
    _signer(request).check("part", oid, size, chunk, part, exp=exp, sig=sig)
    upload = lfs.MultipartUpload(store.tmp_dir, oid)
    etag = await upload.write_part(request.stream(), offset=(part - 1) * chunk)
    return Response(status_code=200, headers={"ETag": f'"{etag}"'})


@router.post("/api/lfs/multipart/{oid}")
async def complete_multipart(
    request: Request, store: StoreDep, oid: str, size: int, exp: str, sig: str
) -> Any:
    _signer(request).check("complete", oid, size, exp=exp, sig=sig)
    if not store.blobs.exists(oid):
        upload = lfs.MultipartUpload(store.tmp_dir, oid)
        await run_in_threadpool(upload.complete, store.blobs, oid=oid, size=size)
    return _lfs_json({"oid": oid, "size": size})


@router.post("/api/{repo_type:repotype}/{namespace}/{name}/lfs-verify")
async def verify(request: Request, repo: ReadableRepo, store: StoreDep) -> Response:
    body = await read_json(request)
    obj = lfs.parse_objects([body])[0]
    if not is_sha256(obj.oid) or store.blobs.size(obj.oid) != obj.size:
        raise EntryNotFound(f"Object {obj.oid} of size {obj.size} was not uploaded")
    return _lfs_json({"oid": obj.oid, "size": obj.size})


def locks_verify(found: LfsRepo) -> Response:
    return _lfs_json({"ours": [], "theirs": [], "next_cursor": ""})


for _prefix in PREFIXES:
    lfs_root = f"{_prefix}/{{namespace}}/{{name}}.git/info/lfs"
    router.add_api_route(f"{lfs_root}/objects/batch", batch, methods=["POST"])
    router.add_api_route(f"{lfs_root}/locks/verify", locks_verify, methods=["POST"])
