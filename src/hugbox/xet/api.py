"""Xet routes: token endpoints on the hub API, and the CAS under `/xet/{epoch}/`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from hugbox.deps import BaseUrlDep, CallerDep, SessionDep, get_settings
from hugbox.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge, RepoNotFound
from hugbox.repos import service as repos_service
from hugbox.repos.deps import DownloadableRepo, ReadableRepo
from hugbox.repos.hooks import HooksDep
from hugbox.repos.models import Repo, RepoFields, RepoType
from hugbox.urls import base_url
from hugbox.wire import returns
from hugbox.xet import format as fmt
from hugbox.xet import service, tokens
from hugbox.xet.schemas import (
    DuplicateLfsFilesRequest,
    DuplicateLfsFilesResponse,
    QueryReconstructionResponse,
    QueryReconstructionResponseV2,
    UploadShardResponse,
    UploadXorbResponse,
    XetConnectionInfo,
)
from hugbox.xet.service import XetStorage
from hugbox.xet.tokens import XetToken

router = APIRouter()
API = "/api/{repo_type:repotype}/{namespace}/{name}"
CAS = "/xet/{epoch}"


def get_storage(request: Request) -> XetStorage:
    storage: XetStorage | None = getattr(request.app.state, "xet", None)
    if storage is None:
        raise NotFound("Xet storage is turned off on this hub (HUGBOX_PREUPLOAD_MODE)")
    return storage


StorageDep = Annotated[XetStorage, Depends(get_storage)]


def cas_url(base: str, storage: XetStorage) -> str:
    return f"{base}/xet/{storage.epoch}"


def _grant_response(grant: service.TokenGrant) -> Response:
    headers = {
        "X-Xet-Cas-Url": grant.cas_url,
        "X-Xet-Access-Token": grant.access_token,
        "X-Xet-Token-Expiration": str(grant.exp),
    }
    body = {"casUrl": grant.cas_url, "accessToken": grant.access_token, "exp": grant.exp}
    return Response(service.json_bytes(body), headers=headers, media_type="application/json")


@router.get(API + "/xet-read-token/{revision:path}", **returns(XetConnectionInfo))
def xet_read_token(
    repo: DownloadableRepo,
    session: SessionDep,
    caller: CallerDep,
    storage: StorageDep,
    base: BaseUrlDep,
) -> Response:
    grant = _issue(session, storage, caller, repo, base, write=False, create_pr=False)
    return _grant_response(grant)


@router.get(API + "/xet-write-token/{revision:path}", **returns(XetConnectionInfo))
def xet_write_token(
    repo: ReadableRepo,
    session: SessionDep,
    caller: CallerDep,
    storage: StorageDep,
    base: BaseUrlDep,
    hooks: HooksDep,
    create_pr: Annotated[bool, Query()] = False,
) -> Response:
    grant = _issue(session, storage, caller, repo, base, write=True, create_pr=create_pr)
    hooks.check_upload(session, repo, 0)  # an account already over its quota uploads nothing
    return _grant_response(grant)


def _issue(
    session: SessionDep, storage: XetStorage, caller: CallerDep, repo: Repo, base: str, *,
    write: bool, create_pr: bool,
) -> service.TokenGrant:  # fmt: skip
    return service.issue_token(
        session,
        storage,
        caller=caller,
        repo=repo,
        write=write,
        create_pr=create_pr,
        cas_url=cas_url(base, storage),
    )


def get_token(request: Request, storage: StorageDep, epoch: str) -> XetToken:
    if epoch != storage.epoch:
        raise NotFound("Unknown storage epoch: ask the hub for a new Xet token")
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return tokens.decode(storage.secret, value.strip() if scheme.lower() == "bearer" else "")


TokenDep = Annotated[XetToken, Depends(get_token)]


async def _body_parts(request: Request, limit: int) -> list[bytes]:
    """The body as it arrived, in parts (a xorb is verified part by part, never joined)."""
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise PayloadTooLarge(f"Body larger than {limit} bytes")
        parts.append(part)
    return parts


@router.post(CAS + "/v1/xorbs/{prefix}/{xorb}", **returns(UploadXorbResponse))
async def upload_xorb(
    request: Request, token: TokenDep, session: SessionDep, storage: StorageDep, xorb: str
) -> Any:
    body = await _body_parts(request, fmt.MAX_XORB_BYTES + 64 * 1024)
    inserted = await run_in_threadpool(
        service.store_xorb, session, storage, token=token, xorb=xorb, body=body
    )
    return {"was_inserted": inserted}


@router.post(CAS + "/v1/shards", **returns(UploadShardResponse))
async def upload_shard(
    request: Request, token: TokenDep, session: SessionDep, storage: StorageDep
) -> Any:
    body = b"".join(await _body_parts(request, fmt.MAX_SHARD_BYTES))
    await run_in_threadpool(service.register_shard, session, storage, token=token, body=body)
    return {"result": 1}


@router.get(CAS + "/v1/chunks/{prefix}/{chunk}", response_class=Response)
def dedup_probe(token: TokenDep, session: SessionDep, chunk: str) -> Response:
    shard = service.dedup_answer(session, token=token, chunk=chunk)
    return Response(shard, media_type="application/octet-stream")


def _plan(request: Request, session: SessionDep, token: XetToken, file: str) -> service.Plan:
    found = service.readable_file(session, token=token, file_hash=file)
    start, end = service.parse_range(request.headers.get("range"), found.size)
    return service.plan(session, found, start, end)


def _fetch_url(request: Request, storage: XetStorage, term: service.PlannedTerm) -> str:
    """Where the client fetches one byte range of a xorb: the bucket itself when the xorbs live
    in one and downloads redirect (each URL is fetched with its single range, never several:
    S3 servers answer a multi-range request wrongly), else the hub's signed fetch route."""
    if get_settings(request).blob_redirects and (url := storage.xorbs.download_url(term.xorb)):
        return url
    span = f"{term.byte_start}-{term.byte_end}"
    signed = storage.fetch_signer.sign("xet-fetch", term.xorb, span)
    base = cas_url(base_url(request), storage)
    return f"{base}/v1/fetch/{term.xorb}?r={span}&exp={signed['exp']}&sig={signed['sig']}"


def _term(term: service.PlannedTerm) -> dict[str, Any]:
    chunks = {"start": term.chunk_start, "end": term.chunk_end}
    return {"hash": term.xorb, "unpacked_length": term.unpacked_length, "range": chunks}


@router.get(CAS + "/v1/reconstructions/{file}", **returns(QueryReconstructionResponse))
def reconstruction_v1(
    request: Request, token: TokenDep, session: SessionDep, storage: StorageDep, file: str
) -> Any:
    plan = _plan(request, session, token, file)
    fetch = {
        xorb: [
            {
                "range": {"start": span.chunk_start, "end": span.chunk_end},
                "url": _fetch_url(request, storage, span),
                "url_range": {"start": span.byte_start, "end": span.byte_end},
            }
            for span in spans
        ]
        for xorb, spans in service.fetch_ranges(plan.terms).items()
    }
    terms = [_term(t) for t in plan.terms]
    return {
        "offset_into_first_range": plan.offset_into_first_range,
        "terms": terms,
        "fetch_info": fetch,
    }


@router.get(CAS + "/v2/reconstructions/{file}", **returns(QueryReconstructionResponseV2))
def reconstruction_v2(
    request: Request, token: TokenDep, session: SessionDep, storage: StorageDep, file: str
) -> Any:
    plan = _plan(request, session, token, file)
    xorbs = {
        xorb: [
            {
                "url": _fetch_url(request, storage, span),
                "ranges": [
                    {
                        "chunks": {"start": span.chunk_start, "end": span.chunk_end},
                        "bytes": {"start": span.byte_start, "end": span.byte_end},
                    }
                ],
            }
            for span in spans
        ]
        for xorb, spans in service.fetch_ranges(plan.terms).items()
    }
    terms = [_term(t) for t in plan.terms]
    return {"offset_into_first_range": plan.offset_into_first_range, "terms": terms, "xorbs": xorbs}


@router.get(CAS + "/v1/fetch/{xorb}", response_class=Response, status_code=206)
async def fetch_xorb_range(
    request: Request, storage: StorageDep, epoch: str, xorb: str, r: str, exp: str, sig: str
) -> Response:
    """A presigned range of a stored xorb: fetched without credentials, so the URL carries its
    own authorization, valid only with the exact Range it was signed for."""
    storage.fetch_signer.check("xet-fetch", xorb, r, exp=exp, sig=sig)
    if epoch != storage.epoch:
        raise NotFound("Unknown storage epoch")
    if request.headers.get("range") != f"bytes={r}":
        raise Forbidden("This URL serves only the Range it was signed for")
    start, _, end = r.partition("-")
    data = await run_in_threadpool(service.read_range, storage, xorb, int(start), int(end))
    headers = {"Content-Range": f"bytes {start}-{int(start) + len(data) - 1}/*"}
    return Response(data, status_code=206, headers=headers, media_type="application/octet-stream")


@router.post("/v1/telemetry", response_class=Response)
async def telemetry(request: Request) -> Response:
    """hf_xet reports to the CAS host's root; accepted and dropped."""
    async for _part in request.stream():
        pass
    return Response(status_code=200)


def download_headers(
    request: Request, connection: Connection, repo: RepoFields, sha256: str, revision: str
) -> dict[str, str]:
    """`X-Xet-Hash` and the read-token link for a file this repo holds in Xet storage, so stock
    clients download it through Xet (spec/xet.md §1.3); nothing for other files."""
    if getattr(request.app.state, "xet", None) is None:
        return {}
    file_hash = service.file_hash_for(connection, repo_pk=repo.pk, sha256=sha256)
    if file_hash is None:
        return {}
    api = f"{base_url(request)}/api/{repo.type.value}s/{repo.repo_id}"
    link = f'<{api}/xet-read-token/{revision}>; rel="xet-auth"'
    return {"X-Xet-Hash": file_hash, "Link": link}


def with_xet_hashes(
    request: Request, session: Session, repo: Repo, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Tree and paths-info entries, with `xetHash` on the files this repo holds in Xet storage
    (clients then download them through Xet without a HEAD first)."""
    if getattr(request.app.state, "xet", None) is None:
        return items
    sha256s = [item["lfs"]["oid"] for item in items if "lfs" in item]
    found = service.file_hashes_for(session, repo_pk=repo.pk, sha256s=sha256s)
    for item in items:
        if "lfs" in item and item["lfs"]["oid"] in found:
            item["xetHash"] = found[item["lfs"]["oid"]]
    return items


@router.post(API + "/lfs-files/duplicate", **returns(DuplicateLfsFilesResponse))
def duplicate_lfs_files(
    body: DuplicateLfsFilesRequest, repo: DownloadableRepo, caller: CallerDep, session: SessionDep
) -> Any:
    """`CommitOperationCopy` from another repo: huggingface_hub asks the source repo to share
    the files' Xet data with the target before committing them there by sha256."""
    found = repos_service.find_repo(session, _repo_type(body.target.type), body.target.name)
    if not isinstance(found, Repo):
        raise RepoNotFound(anonymous=caller.anonymous)
    files = [service.CopyRequest(f.xet_hash, f.sha256) for f in body.files]
    failed = service.duplicate_files(session, caller=caller, source=repo, target=found, files=files)
    return {"failed": failed}


def _repo_type(value: str) -> RepoType:
    try:
        return RepoType(value.removesuffix("s"))
    except ValueError as exc:
        raise BadRequest(f"Unknown repo type {value!r}") from exc
