"""The git-lfs HTTP API: batch, signed transfers (single PUT and HF multipart), verify, locks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from hugbox.auth.service import Caller
from hugbox.deps import BaseUrlDep, CallerDep, SessionDep, SettingsDep, StoreDep
from hugbox.edge import read_json
from hugbox.errors import BadRequest, EntryNotFound, NotFound
from hugbox.lfs import service as lfs
from hugbox.lfs.schemas import (
    LFS_JSON,
    BatchResponse,
    LfsJSONResponse,
    LfsPointer,
    LocksVerifyResponse,
)
from hugbox.lfs.streams import PartStreams, tee
from hugbox.openapi import OBJECT, request_body
from hugbox.repos import objects as repo_objects
from hugbox.repos.deps import ReadableRepo, asking_for_basic, load_repo_for_git
from hugbox.repos.downloads import blob_response
from hugbox.repos.hooks import hooks_of
from hugbox.repos.models import Repo
from hugbox.repos.service import Need, authorize, authorize_upload
from hugbox.settings import PreuploadMode
from hugbox.signing import UrlSigner
from hugbox.storage.blobs import is_sha256
from hugbox.wire import returns

if TYPE_CHECKING:
    from hugbox.storage.s3_parts import S3PartUploads, StartedUpload

router = APIRouter()
PREFIXES = ("", "/{repo_type:prefixtype}")


def _signer(request: Request) -> UrlSigner:
    signer: UrlSigner = request.app.state.signer
    return signer


def _direct(request: Request) -> S3PartUploads | None:
    """The bucket's direct multipart uploads, when the store is one and takes them."""
    direct: S3PartUploads | None = getattr(request.app.state, "lfs_direct", None)
    return direct


def _lfs_json(body: Any) -> LfsJSONResponse:
    return LfsJSONResponse(body)


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
    if body["operation"] == "download":
        with asking_for_basic():  # a gated repo: anonymous git-lfs must be asked to log in
            authorize(session, caller, repo, Need.DOWNLOAD)
        items = _download_items(session, store, _signer(request), base, repo, caller, objects)
        return _lfs_json({"transfer": "basic", "objects": items})
    uploader = _check_upload(session, caller, repo)
    held = repo_objects.admissible(session, caller=caller, repo=repo, oids={o.oid for o in objects})
    hooks_of(request).check_upload(session, repo, sum(o.size for o in objects if o.oid not in held))
    transfers = body.get("transfers") or []
    multipart = "multipart" in transfers
    plan = _UploadPlan(
        _signer(request), base, repo, uploader,
        settings.lfs_multipart_chunk_size if multipart else None, settings.max_file_size,
        _direct(request) if multipart else None,
    )  # fmt: skip
    if "xet" in transfers and settings.preupload_mode is PreuploadMode.XET:
        # huggingface_hub 0.3x with hf_xet offers Xet here, and uploads through the CAS when
        # the answer picks it (1.x and later go to the CAS without asking).
        return _lfs_json({"transfer": "xet", "objects": [_xet_item(plan, o) for o in objects]})
    # Off the event loop: each item may ask the bucket (a HEAD, or starting a direct upload).
    items = await run_in_threadpool(lambda: [_upload_item(store, plan, o, held) for o in objects])
    return _lfs_json({"transfer": "multipart" if multipart else "basic", "objects": items})


def _check_upload(session: SessionDep, caller: Caller, repo: Repo) -> int:
    """The uploader's id, if they may upload objects for `repo`: what the commit that follows
    will be is unknown here, so a pull request's rights suffice (the commit is checked again)."""
    with asking_for_basic():  # git-lfs sends credentials once a 401 asks for them
        authorize_upload(session, caller, repo, create_pr=True)
    assert caller.user is not None  # authorize_upload refused an anonymous caller
    return caller.user.id


def _error(obj: lfs.LfsObject, code: int, message: str) -> dict[str, Any]:
    return {"oid": obj.oid, "size": obj.size, "error": {"code": code, "message": message}}


def _download_items(
    session: SessionDep, store: StoreDep, signer: UrlSigner, base: str, repo: Repo,
    caller: Caller, objects: list[lfs.LfsObject],
) -> list[dict[str, Any]]:  # fmt: skip
    """Links for the objects this repo's history names (or the caller uploaded for it): any
    other oid is missing here, whichever repo holds it."""
    user_id = caller.user.id if caller.user else None
    wanted = {o.oid for o in objects}
    readable = repo_objects.readable(session, repo_pk=repo.pk, user_id=user_id, oids=wanted)
    return [_download_item(store, signer, base, o, o.oid in readable) for o in objects]


def _download_item(
    store: StoreDep, signer: UrlSigner, base: str, obj: lfs.LfsObject, readable: bool
) -> dict[str, Any]:
    if not readable or not is_sha256(obj.oid) or store.blobs.size(obj.oid) != obj.size:
        return _error(obj, 404, f"Object {obj.oid} does not exist")
    query = urlencode(signer.sign("get", obj.oid))
    href = f"{base}/api/lfs/objects/{obj.oid}?{query}"
    return {"oid": obj.oid, "size": obj.size, "actions": {"download": {"href": href}}}


@dataclass(frozen=True)
class _UploadPlan:
    """What every upload action of one batch is signed with and bounded by."""

    signer: UrlSigner
    base: str
    repo: Repo
    uploader: int
    chunk_size: int | None  # None: single PUTs
    max_size: int
    direct: S3PartUploads | None = None  # parts go straight to the bucket

    def signed(self, action: str, obj: lfs.LfsObject) -> dict[str, str | int]:
        # The PUT carries no credentials: the URL itself says for whom and for which repo.
        who = {"repo": self.repo.pk, "user": self.uploader, "size": obj.size}
        return {**who, **self.signer.sign(action, obj.oid, obj.size, self.repo.pk, self.uploader)}


def _upload_item(
    store: StoreDep, plan: _UploadPlan, obj: lfs.LfsObject, held: set[str]
) -> dict[str, Any]:
    refused = _refusal(plan, obj)
    if refused is not None:
        return refused
    if obj.oid in held and store.blobs.size(obj.oid) == obj.size:
        return {"oid": obj.oid, "size": obj.size}
    # git-lfs sends no credentials with it: the URL names the uploader, as the PUT's does.
    query = urlencode(plan.signed("verify", obj))
    verify = {"href": f"{plan.base}/api/lfs/objects/{obj.oid}/verify?{query}"}
    direct = plan.direct
    if plan.chunk_size is None or obj.size <= plan.chunk_size:
        upload = {
            "href": f"{plan.base}/api/lfs/objects/{obj.oid}?{urlencode(plan.signed('put', obj))}"
        }
    elif direct is not None and (part_size := direct.part_size(obj.size, plan.chunk_size)):
        upload = _direct_actions(plan, obj, direct.start(obj.size, part_size))
    else:
        upload = _multipart_actions(plan, obj, plan.chunk_size)
    return {"oid": obj.oid, "size": obj.size, "actions": {"upload": upload, "verify": verify}}


def _refusal(plan: _UploadPlan, obj: lfs.LfsObject) -> dict[str, Any] | None:
    if not is_sha256(obj.oid):
        return _error(obj, 422, f"Invalid oid {obj.oid!r}: expected a sha256")
    if obj.size > plan.max_size:
        return _error(obj, 422, f"{obj.size} bytes is over the limit of {plan.max_size} per file")
    return None


def _xet_item(plan: _UploadPlan, obj: lfs.LfsObject) -> dict[str, Any]:
    return _refusal(plan, obj) or {"oid": obj.oid, "size": obj.size}


def _multipart_actions(plan: _UploadPlan, obj: lfs.LfsObject, chunk_size: int) -> dict[str, Any]:
    header: dict[str, Any] = {"chunk_size": str(chunk_size)}
    for part in range(1, lfs.part_count(obj.size, chunk_size) + 1):
        signed = plan.signer.sign("part", obj.oid, obj.size, chunk_size, part)
        query = urlencode({"size": obj.size, "chunk": chunk_size, **signed})
        header[str(part)] = f"{plan.base}/api/lfs/multipart/{obj.oid}/{part}?{query}"
    query = urlencode(plan.signed("complete", obj))
    return {"href": f"{plan.base}/api/lfs/multipart/{obj.oid}?{query}", "header": header}


def _direct_actions(
    plan: _UploadPlan, obj: lfs.LfsObject, started: StartedUpload
) -> dict[str, Any]:
    """Presigned part URLs of the bucket, and a completion URL of the hub that names (and signs)
    this staging upload for this uploader and repo: no one else can complete it."""
    header = {"chunk_size": str(started.part_size)}
    header.update({str(n): url for n, url in enumerate(started.part_urls, start=1)})
    upload = {"upload": started.token, "uid": started.upload_id, "chunk": started.part_size}
    who = {"repo": plan.repo.pk, "user": plan.uploader, "size": obj.size}
    signed = plan.signer.sign("direct", obj.oid, *who.values(), *upload.values())
    query = urlencode({**who, **upload, **signed})
    return {"href": f"{plan.base}/api/lfs/s3-multipart/{obj.oid}?{query}", "header": header}


@dataclass(frozen=True)
class SignedTransfer:
    """What a signed upload URL says: which object, for which repo, by whom."""

    obj: lfs.LfsObject
    repo_pk: int
    user_id: int


def _signed(action: str) -> Callable[..., SignedTransfer]:
    def check(
        request: Request, oid: str, size: int, repo: int, user: int, exp: str, sig: str
    ) -> SignedTransfer:
        _signer(request).check(action, oid, size, repo, user, exp=exp, sig=sig)
        return SignedTransfer(lfs.LfsObject(oid, size), repo, user)

    return check


@router.put("/api/lfs/objects/{oid}", response_class=Response)
async def put_object(
    request: Request,
    store: StoreDep,
    session: SessionDep,
    signed: Annotated[SignedTransfer, Depends(_signed("put"))],
) -> Any:
    obj = signed.obj
    await lfs.receive_object(store.blobs, request.stream(), oid=obj.oid, size=obj.size)
    _record_upload(session, signed)
    return Response(status_code=200)


def _record_upload(session: SessionDep, signed: SignedTransfer) -> None:
    repo_pk, user_id, oid = signed.repo_pk, signed.user_id, signed.obj.oid
    repo_objects.record_upload(session, repo_pk=repo_pk, user_id=user_id, oid=oid)


@router.get("/api/lfs/objects/{oid}", response_class=FileResponse)
def get_object(
    request: Request, store: StoreDep, settings: SettingsDep, oid: str, exp: str, sig: str
) -> Response:
    _signer(request).check("get", oid, exp=exp, sig=sig)
    headers = {"ETag": f'"{oid}"'}
    response = blob_response(request, store.blobs, oid, headers, redirect=settings.blob_redirects)
    if response is None:
        raise EntryNotFound(f"Object {oid} does not exist")
    return response


@router.put("/api/lfs/multipart/{oid}/{part}", response_class=Response)
async def put_part(
    request: Request, store: StoreDep, oid: str, part: int, size: int, chunk: int, exp: str,
    sig: str,
) -> Response:  # fmt: skip
    _signer(request).check("part", oid, size, chunk, part, exp=exp, sig=sig)
    upload = lfs.MultipartUpload(store.tmp_dir, oid)
    offset = (part - 1) * chunk
    streams = _streams(request)
    stream = streams.claim(store.blobs, oid, size, offset)
    ok = False
    try:
        etag = await upload.write_part(tee(request.stream(), stream), offset=offset)
        ok = True
    finally:
        if stream is not None:
            streams.release(oid, stream, ok)
    return Response(status_code=200, headers={"ETag": f'"{etag}"'})


def _streams(request: Request) -> PartStreams:
    streams: PartStreams = request.app.state.lfs_streams
    return streams


@router.post("/api/lfs/multipart/{oid}", response_class=LfsJSONResponse, **returns(LfsPointer))
async def complete_multipart(
    request: Request,
    store: StoreDep,
    session: SessionDep,
    signed: Annotated[SignedTransfer, Depends(_signed("complete"))],
) -> Any:
    obj = signed.obj
    stream = _streams(request).take(obj.oid)
    if _held(session, store, signed.repo_pk, signed.user_id, obj):  # a retry
        if stream is not None:
            stream.writer.abort()
        return _lfs_json({"oid": obj.oid, "size": obj.size})
    # The parts are hashed even when the store holds the object: that proves possession.
    upload = lfs.MultipartUpload(store.tmp_dir, obj.oid)
    if stream is not None:
        await run_in_threadpool(upload.complete_streamed, stream.writer, oid=obj.oid, size=obj.size)
    else:
        await run_in_threadpool(upload.complete, store.blobs, oid=obj.oid, size=obj.size)
    _record_upload(session, signed)
    return _lfs_json({"oid": obj.oid, "size": obj.size})


@dataclass(frozen=True)
class DirectTransfer:
    """What a signed completion URL of a direct upload says: the transfer and its staging
    upload in the bucket."""

    signed: SignedTransfer
    token: str
    upload_id: str
    part_size: int


def _direct_signed(
    request: Request, oid: str, size: int, repo: int, user: int, upload: str, uid: str,
    chunk: int, exp: str, sig: str,
) -> DirectTransfer:  # fmt: skip
    _signer(request).check("direct", oid, repo, user, size, upload, uid, chunk, exp=exp, sig=sig)
    return DirectTransfer(SignedTransfer(lfs.LfsObject(oid, size), repo, user), upload, uid, chunk)


@router.post("/api/lfs/s3-multipart/{oid}", response_class=LfsJSONResponse, **returns(LfsPointer))
async def complete_direct(
    request: Request,
    store: StoreDep,
    session: SessionDep,
    transfer: Annotated[DirectTransfer, Depends(_direct_signed)],
) -> Any:
    direct, signed = _direct(request), transfer.signed
    if direct is None:  # signed by a hub that took direct uploads, sent to one that does not
        raise NotFound("This hub takes no direct uploads: ask the LFS batch API again")
    count = lfs.part_count(signed.obj.size, transfer.part_size)
    parts = lfs.parse_parts(await read_json(request), count)
    if _held(session, store, signed.repo_pk, signed.user_id, signed.obj):  # a retry
        await run_in_threadpool(direct.abort, transfer.token, transfer.upload_id)
    else:
        await run_in_threadpool(
            lfs.complete_direct, direct, transfer.token, transfer.upload_id, parts, signed.obj
        )
        _record_upload(session, signed)
    return _lfs_json({"oid": signed.obj.oid, "size": signed.obj.size})


@router.post("/api/lfs/objects/{oid}/verify", response_class=LfsJSONResponse, **returns(LfsPointer))
async def verify_signed(
    store: StoreDep,
    session: SessionDep,
    signed: Annotated[SignedTransfer, Depends(_signed("verify"))],
) -> Response:
    held = _held(session, store, signed.repo_pk, signed.user_id, signed.obj)
    return _verified(held, signed.obj)


@router.post(
    "/api/{repo_type:repotype}/{namespace}/{name}/lfs-verify",
    openapi_extra=request_body(OBJECT, "application/json"),
    response_class=LfsJSONResponse,
    **returns(LfsPointer),
)
async def verify(
    request: Request, repo: ReadableRepo, store: StoreDep, session: SessionDep, caller: CallerDep
) -> Response:
    obj = lfs.parse_objects([await read_json(request)])[0]
    uploader = caller.user.id if caller.user else None
    return _verified(_held(session, store, repo.pk, uploader, obj), obj)


def _held(
    session: SessionDep, store: StoreDep, repo_pk: int, user_id: int | None, obj: lfs.LfsObject
) -> bool:
    """Whether `user_id` may read the object through the repo, at that size."""
    held = repo_objects.readable(session, repo_pk=repo_pk, user_id=user_id, oids=[obj.oid])
    return bool(held) and store.blobs.size(obj.oid) == obj.size


def _verified(held: bool, obj: lfs.LfsObject) -> Response:
    if not held:
        raise EntryNotFound(f"Object {obj.oid} of size {obj.size} was not uploaded")
    return _lfs_json({"oid": obj.oid, "size": obj.size})


def locks_verify(found: LfsRepo) -> Response:
    return _lfs_json({"ours": [], "theirs": [], "next_cursor": ""})


for _prefix in PREFIXES:
    lfs_root = f"{_prefix}/{{namespace}}/{{name}}.git/info/lfs"
    router.add_api_route(
        f"{lfs_root}/objects/batch", batch, methods=["POST"],
        openapi_extra=request_body(OBJECT, LFS_JSON),
        response_class=LfsJSONResponse, **returns(BatchResponse),
    )  # fmt: skip
    router.add_api_route(
        f"{lfs_root}/locks/verify", locks_verify, methods=["POST"],
        response_class=LfsJSONResponse, **returns(LocksVerifyResponse),
    )  # fmt: skip
