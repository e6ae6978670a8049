"""An org's SSO settings over HTTP, for its admins: read them (never the secret), set them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from hugbox.auth.models import OrgRole
from hugbox.deps import CallerDep, SessionDep
from hugbox.sso import service
from hugbox.sso.schemas import SsoSettings, SsoSettingsUpdate
from hugbox.wire import Empty, returns

router = APIRouter()


@router.get("/api/organizations/{org}/sso", **returns(SsoSettings))
def get_sso(session: SessionDep, caller: CallerDep, org: str) -> Any:
    account = service.get_org(session, org)
    service.require_admin(caller, account)
    return service.as_json(service.get_config(session, account))


@router.delete("/api/organizations/{org}/sso", **returns(Empty))
def delete_sso(request: Request, session: SessionDep, caller: CallerDep, org: str) -> Any:
    account = service.get_org(session, org)
    service.require_admin(caller, account)
    assert caller.user is not None
    service.remove(session, org=account, actor=caller.user.name)
    request.app.state.require_sso.forget(account.id)
    return {}


@router.put("/api/organizations/{org}/sso", **returns(SsoSettings))
def put_sso(
    request: Request, session: SessionDep, caller: CallerDep, org: str, body: SsoSettingsUpdate
) -> Any:
    account = service.get_org(session, org)
    service.require_admin(caller, account)
    assert caller.user is not None
    values = service.ConfigInput(
        issuer=body.issuer,
        client_id=body.clientId,
        client_secret=body.clientSecret,
        role_claim=body.roleClaim,
        default_role=OrgRole(body.defaultRole),
        role_mapping={k: OrgRole(v) for k, v in body.roleMapping.items()},
        require_sso=body.requireSso,
    )
    config = service.configure(
        session,
        org=account,
        values=values,
        actor=caller.user.name,
        server_secret=request.app.state.context.secret,
    )
    request.app.state.require_sso.forget(account.id)
    return service.as_json(config)
