"""Routes for access requests to gated repos (huggingface_hub's `*_access_request` calls)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from hugbox.auth.service import require_write_token
from hugbox.deps import CallerDep, SessionDep
from hugbox.errors import AuthenticationRequired, BadRequest
from hugbox.gated import service as gated
from hugbox.gated.schemas import AccessRequest, AccessRequested
from hugbox.pagination import MAX_OFFSET
from hugbox.repos import schemas
from hugbox.repos.deps import ReadableRepo, WritableRepo
from hugbox.wire import Empty, returns

router = APIRouter()
API = "/api/{repo_type:repotype}/{namespace}/{name}"


@router.post(API + "/ask-access", **returns(AccessRequested))
def ask_access(repo: ReadableRepo, session: SessionDep, caller: CallerDep) -> Any:
    if caller.user is None:
        raise AuthenticationRequired("Log in (pass a token) to ask for access")
    require_write_token(caller, f"ask for access to {repo.repo_id}")
    request = gated.ask_access(session, repo=repo, user=caller.user)
    return {"status": request.status}


@router.get(API + "/user-access-request/{status}", **returns(list[AccessRequest]))
def list_requests(repo: WritableRepo, session: SessionDep, status: str) -> Any:
    return [
        {
            "requestId": str(request.id),
            "status": request.status,
            "timestamp": schemas.iso(request.created_at),
            "user": {"user": user.name, "fullname": user.fullname, "email": user.email},
        }
        for request, user in gated.list_requests(session, repo=repo, status=status)
    ]


class HandleBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    user: str | None = None
    # Bounded: SQLite cannot even bind a number past 64 bits.
    request_id: int | None = Field(default=None, alias="requestId", ge=1, le=MAX_OFFSET)
    status: str


@router.post(API + "/user-access-request/handle", **returns(Empty))
def handle_request(body: HandleBody, repo: WritableRepo, session: SessionDep) -> Any:
    if (body.user is None) == (body.request_id is None):
        raise BadRequest("Pass exactly one of `user` and `requestId`")
    gated.set_status(
        session, repo=repo, user=body.user, request_id=body.request_id, status=body.status
    )
    return {}


class GrantBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user: str


@router.post(API + "/user-access-request/grant", **returns(Empty))
def grant_access(body: GrantBody, repo: WritableRepo, session: SessionDep) -> Any:
    gated.grant(session, repo=repo, user=body.user)
    return {}
