"""Routes of the auth domain: `whoami-v2`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from hugbox.auth.models import Account
from hugbox.auth.schemas import WhoAmI
from hugbox.auth.service import Caller
from hugbox.deps import BaseUrlDep, CallerDep
from hugbox.errors import InvalidCredentials
from hugbox.wire import returns

router = APIRouter()


def _avatar(base: str, account: Account) -> str:
    return f"{base}/avatars/{account.name}.svg"


def whoami_body(caller: Caller, base: str) -> dict[str, Any]:
    user, token = caller.user, caller.token
    assert user is not None
    orgs = [
        {
            "type": "org",
            "id": str(m.org.id),
            "name": m.org.name,
            "fullname": m.org.fullname,
            "email": None,
            "canPay": False,
            "periodEnd": None,
            "avatarUrl": _avatar(base, m.org),
            "roleInOrg": m.role.value,
            "isEnterprise": False,
        }
        for m in user.memberships
    ]
    body: dict[str, Any] = {
        "type": "user",
        "id": str(user.id),
        "name": user.name,
        "fullname": user.fullname or user.name,
        "email": user.email,
        "emailVerified": user.email is not None,
        "isPro": False,
        "canPay": False,
        "periodEnd": None,
        "avatarUrl": _avatar(base, user),
        "orgs": orgs,
    }
    if token is not None:
        body["auth"] = {
            "type": "access_token",
            "accessToken": {
                "displayName": token.name,
                "role": token.role.value,
                "createdAt": token.created_at.isoformat().replace("+00:00", "Z"),
            },
        }
    return body


@router.get("/api/whoami-v2", **returns(WhoAmI))
def whoami(caller: CallerDep, base: BaseUrlDep) -> Any:
    if caller.user is None:
        raise InvalidCredentials()
    return whoami_body(caller, base)
