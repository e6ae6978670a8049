"""Routes of the auth domain: `whoami-v2`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from hugbox.auth import scopes
from hugbox.auth.models import Account, Token
from hugbox.auth.schemas import WhoAmI
from hugbox.auth.service import Caller
from hugbox.deps import BaseUrlDep, CallerDep, SessionDep
from hugbox.errors import InvalidCredentials
from hugbox.wire import returns

router = APIRouter()
# {account id: its plan's tier} of the given accounts: "free", "pro", "team", "enterprise", …
AccountTiers = Callable[[Session, Sequence[Account]], Mapping[int, str]]
# {org id: what the caller must still do to reach it} ("sso": sign in through the org's SSO),
# HF's `securityRestrictions`; hugbox.sso wires this in.
OrgRestrictions = Callable[[Session, Caller], Mapping[int, list[str]]]


def _avatar(base: str, account: Account) -> str:
    return f"{base}/avatars/{account.name}.svg"


def _org_plan(tier: str) -> dict[str, Any]:
    """HF's org `plan` is absent for a free org (spec community-plans §4.5)."""
    paid = tier in ("team", "enterprise", "plus", "academia")
    return {"plan": tier, "isEnterprise": tier in ("enterprise", "plus")} if paid else {}


def whoami_body(
    caller: Caller, base: str, tiers: Mapping[int, str] | None = None,
    restrictions: Mapping[int, list[str]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """`tiers`: each account's plan tier (hugbox.plans), by account id; `restrictions`: each
    org's `securityRestrictions` for this caller, by org id."""
    user, token = caller.user, caller.token
    assert user is not None
    tiers, restrictions = tiers or {}, restrictions or {}
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
            **_org_plan(tiers.get(m.org.id, "free")),
            **(
                {"securityRestrictions": restrictions[m.org.id]} if m.org.id in restrictions else {}
            ),
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
        "isPro": tiers.get(user.id) == "pro",
        "canPay": False,
        "periodEnd": None,
        "avatarUrl": _avatar(base, user),
        "orgs": orgs,
    }
    if token is not None:
        body["auth"] = {"type": "access_token", "accessToken": _access_token(token)}
    return body


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _access_token(token: Token) -> dict[str, Any]:
    """whoami's `auth.accessToken`: `expiration` and `fineGrained` only when the token has them."""
    info: dict[str, Any] = {
        "displayName": token.name,
        "role": token.role.value,
        "createdAt": _iso(token.created_at),
    }
    if token.expires_at is not None:
        info["expiration"] = _iso(token.expires_at)
    if token.scope:
        info["fineGrained"] = scopes.load(token.scope).as_json()
    return info


@router.get("/api/whoami-v2", **returns(WhoAmI))
def whoami(request: Request, caller: CallerDep, session: SessionDep, base: BaseUrlDep) -> Any:
    if caller.user is None:
        raise InvalidCredentials()
    accounts = [caller.user, *(m.org for m in caller.user.memberships)]
    # Plans tell each account's tier (hugbox.plans wires this in; auth does not import it).
    tiers_of: AccountTiers | None = getattr(request.app.state, "account_tiers", None)
    restricted: OrgRestrictions | None = getattr(request.app.state, "org_restrictions", None)
    return whoami_body(
        caller, base, tiers_of(session, accounts) if tiers_of else None,
        restricted(session, caller) if restricted else None,
    )  # fmt: skip
