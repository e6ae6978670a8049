"""Routes for access requests to gated repos (huggingface_hub's `*_access_request` calls and
`grant_access`, and HF's `POST /{repo}/ask-access`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from hugbox.auth.scopes import Permission
from hugbox.auth.service import Caller, require
from hugbox.deps import CallerDep, SessionDep, StoreDep, caller_of
from hugbox.errors import AuthenticationRequired
from hugbox.gated import service as gated
from hugbox.gated.answers import read_answers
from hugbox.gated.form import repo_gate_form
from hugbox.gated.schemas import AccessRequest, AccessRequested, request_json
from hugbox.pagination import decode_cursor, paginate
from hugbox.repos import access
from hugbox.repos.deps import ReadableRepo, WritableRepo, load_repo
from hugbox.repos.models import Repo
from hugbox.repos.service import Need
from hugbox.repos.store import RepoStore
from hugbox.wire import Empty, returns

router = APIRouter()
API = "/api/{repo_type:repotype}/{namespace}/{name}"
# HF's own route is outside /api: `/{prefix}{repo_id}/ask-access`, the prefix empty for models.
ASK_PATHS = (
    "/{namespace}/{name}/ask-access",
    "/{repo_type:prefixtype}/{namespace}/{name}/ask-access",
)


def _ask(
    session: Session, store: RepoStore, repo: Repo, caller: Caller, answers: dict[str, Any]
) -> str:
    if caller.user is None:
        raise AuthenticationRequired("Log in (pass a token) to ask for access")
    # Asking is a message to the repo's owners: as a discussion, it needs `discussion.write`.
    action = f"ask for access to {repo.repo_id}"
    require(caller, Permission.DISCUSSION_WRITE, access.target(repo), action)
    form = repo_gate_form(store, repo)
    request = gated.ask_access(session, repo=repo, user=caller.user, form=form, answers=answers)
    return request.status


async def ask_access(request: Request, session: SessionDep, store: StoreDep) -> Response:
    """The gate form's answers (a JSON object or a posted form), from a token or a logged-in
    browser; 303 to the repo page, as HF answers."""
    caller, answers = await read_answers(request, session)

    def ask() -> str:
        repo = load_repo(request, session, caller, Need.READ)
        _ask(session, store, repo, caller, answers)
        return f"/{repo.type.url_prefix}{repo.repo_id}"

    return RedirectResponse(await run_in_threadpool(ask), status_code=303)


for _path in ASK_PATHS:
    router.add_api_route(
        _path, ask_access, methods=["POST"], status_code=303, response_class=RedirectResponse
    )


@router.post(API + "/ask-access", **returns(AccessRequested))
def ask_access_json(
    request: Request, repo: ReadableRepo, session: SessionDep, store: StoreDep,
    answers: Annotated[dict[str, Any] | None, Body()] = None,
) -> Any:  # fmt: skip
    """hugbox's JSON twin of `ask-access`: the answers as a JSON object, the status back."""
    status = _ask(session, store, repo, caller_of(request, session), answers or {})
    return {"status": status}


@router.get(API + "/user-access-request/{status}", **returns(list[AccessRequest]))
def list_requests(
    request: Request, response: Response, repo: WritableRepo, session: SessionDep, status: str,
    limit: Annotated[int, Query(ge=1, le=gated.MAX_PAGE)] = gated.MAX_PAGE,
    cursor: str | None = None,
) -> Any:  # fmt: skip
    """One page of requests (`paginate` follows the Link header to the next)."""
    offset = decode_cursor(cursor)
    rows = gated.list_requests(session, repo=repo, status=status, offset=offset, limit=limit + 1)
    page = paginate(request, response, rows, offset=offset, page_size=limit)
    return [request_json(grant, user) for grant, user in page]


class HandleBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    user: str | None = Field(default=None, max_length=200)
    request_id: str | None = Field(default=None, alias="requestId", max_length=64)
    status: str = Field(max_length=50)
    rejection_reason: str | None = Field(default=None, alias="rejectionReason", max_length=10_000)


@router.post(API + "/user-access-request/handle", **returns(Empty))
def handle_request(
    body: HandleBody, repo: WritableRepo, session: SessionDep, caller: CallerDep
) -> Any:
    assert caller.user is not None  # WritableRepo let a user's write token through
    gated.handle_request(
        session, repo=repo, by=caller.user, status=body.status, user=body.user,
        request_id=body.request_id, reason=body.rejection_reason,
    )  # fmt: skip
    return {}


class GrantBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user: str = Field(max_length=200)


@router.post(API + "/user-access-request/grant", **returns(Empty))
def grant_access(
    body: GrantBody, repo: WritableRepo, session: SessionDep, caller: CallerDep
) -> Any:
    assert caller.user is not None  # WritableRepo let a user's write token through
    gated.grant_access(session, repo=repo, user=body.user, by=caller.user)
    return {}
