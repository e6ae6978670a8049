"""Smart HTTP routes (`info/refs`, `git-upload-pack`, `git-receive-pack`) under every clone URL:
`/{ns}/{name}`, `/datasets/…`, `/spaces/…`, each with or without `.git`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from hugbox.auth.service import Caller
from hugbox.deps import SessionDep, SettingsDep, StoreDep
from hugbox.errors import BadRequest, Forbidden
from hugbox.gitserver import service, transport
from hugbox.openapi import BINARY, request_body
from hugbox.repos import access
from hugbox.repos.commits import pushable_pr_refs
from hugbox.repos.deps import asking_for_basic, load_repo_for_git
from hugbox.repos.models import Repo
from hugbox.repos.service import Need, authorize

router = APIRouter()
NO_CACHE = {
    "Cache-Control": "no-cache, max-age=0, must-revalidate",
    "Expires": "Fri, 01 Jan 1980 00:00:00 GMT",
    "Pragma": "no-cache",
}


def _git_repo(request: Request, session: SessionDep) -> Repo:
    """Clone and fetch need the files (gated repos included); a push needs a write token of
    someone who may open pull requests (the hook then keeps non-writers to their own PRs)."""
    pushing = request.url.path.endswith("/" + transport.RECEIVE_PACK) or (
        request.query_params.get("service") == transport.RECEIVE_PACK
    )
    return (
        _push_target(request, session)[0]
        if pushing
        else (load_repo_for_git(request, session, Need.DOWNLOAD)[0])
    )


GitRepo = Annotated[Repo, Depends(_git_repo)]


def _push_target(request: Request, session: SessionDep) -> tuple[Repo, Caller]:
    repo, caller = load_repo_for_git(request, session, Need.READ)
    # A writer pushes anywhere (a fine-grained token's `repo.write` is enough); others only to
    # their pull requests, which needs what opening one needs.
    writer = access.can_write(caller, repo)
    with asking_for_basic():
        authorize(session, caller, repo, Need.WRITE if writer else Need.CONTRIBUTE)
    if not writer and not pushable_pr_refs(session, caller, repo):
        raise Forbidden(f"You don't have the rights to write to {repo.repo_id}")
    return repo, caller


PushTarget = Annotated[tuple[Repo, Caller], Depends(_push_target)]


def _gzipped(request: Request) -> bool:
    return request.headers.get("content-encoding", "").lower() in ("gzip", "x-gzip")


async def info_refs(
    request: Request, repo: GitRepo, store: StoreDep, service: str = ""
) -> Response:
    if service not in transport.SERVICES:
        raise BadRequest("Only smart HTTP is served: use git 1.6.6 or later")
    body = await transport.advertise_refs(
        service, store.git_dir(repo), request.headers.get("git-protocol")
    )
    return Response(body, media_type=f"application/x-{service}-advertisement", headers=NO_CACHE)


async def upload_pack(request: Request, repo: GitRepo, store: StoreDep) -> Response:
    body = await transport.spool_body(
        request.stream(), gzipped=_gzipped(request), tmp_dir=store.tmp_dir
    )
    stream = transport.stream_upload_pack(
        store.git_dir(repo), body, request.headers.get("git-protocol")
    )
    media_type = f"application/x-{transport.UPLOAD_PACK}-result"
    return StreamingResponse(stream, media_type=media_type, headers=NO_CACHE)


async def receive_pack(
    request: Request, target: PushTarget, session: SessionDep, store: StoreDep,
    settings: SettingsDep,
) -> Response:  # fmt: skip
    repo, caller = target
    assert caller.user is not None  # load_repo_for_git asked an anonymous pusher to log in
    body = await transport.spool_body(
        request.stream(), gzipped=_gzipped(request), tmp_dir=store.tmp_dir
    )
    setup = service.PushSetup(
        hooks_dir=settings.data_dir / "git-hooks",
        blobs_dir=settings.blobs_dir,
        xet_dir=settings.xet_dir,
        blob_url=settings.blob_url or "",
        database_url=settings.sqlalchemy_url,
        pusher_id=caller.user.id,
        writer=access.can_write(caller, repo),
        pr_refs=frozenset(pushable_pr_refs(session, caller, repo)),
    )
    with body:
        output = await run_in_threadpool(
            service.receive_pack, session, store, repo=repo, body=body, setup=setup
        )
    media_type = f"application/x-{transport.RECEIVE_PACK}-result"
    return Response(output, media_type=media_type, headers=NO_CACHE)


def _sends(description: str, *services: str, suffix: str) -> dict[int | str, Any]:
    content = {f"application/x-{service}-{suffix}": {"schema": BINARY} for service in services}
    return {200: {"description": description, "content": content}}


ADVERTISEMENT = _sends("The refs, in git's pkt-lines", *transport.SERVICES, suffix="advertisement")
PACK_ROUTES = (
    (transport.UPLOAD_PACK, upload_pack, StreamingResponse, "The pack, streamed"),
    (transport.RECEIVE_PACK, receive_pack, Response, "The push's report-status"),
)

# `.git` routes first: `/{name}/info/refs` would otherwise take `x.git` as the name.
for _prefix in ("", "/{repo_type:prefixtype}"):
    for _suffix in (".git", ""):
        _root = f"{_prefix}/{{namespace}}/{{name}}{_suffix}"
        router.add_api_route(
            f"{_root}/info/refs",
            info_refs,
            methods=["GET"],
            response_class=Response,
            responses=ADVERTISEMENT,
        )
        for _service, _endpoint, _class, _what in PACK_ROUTES:
            router.add_api_route(
                f"{_root}/{_service}",
                _endpoint,
                methods=["POST"],
                openapi_extra=request_body(BINARY, f"application/x-{_service}-request"),
                response_class=_class,
                responses=_sends(_what, _service, suffix="result"),
            )
