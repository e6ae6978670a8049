"""HF's JSON shapes for accounts: what `whoami` answers."""

from __future__ import annotations

from typing import Literal

from hugbox.wire import WireModel


class WhoAmIOrg(WireModel):
    type: Literal["org"]
    id: str
    name: str
    fullname: str
    email: str | None
    canPay: bool
    periodEnd: str | None
    avatarUrl: str
    roleInOrg: str
    isEnterprise: bool
    plan: str | None = None  # absent for a free org: team, enterprise, plus or academia
    # What the caller must still do to reach the org's resources: ["sso"] (hugbox.sso).
    securityRestrictions: list[str] | None = None


class AccessTokenInfo(WireModel):
    displayName: str
    role: str
    createdAt: str


class WhoAmIAuth(WireModel):
    type: Literal["access_token"]
    accessToken: AccessTokenInfo


class WhoAmI(WireModel):
    """`whoami`'s answer: the user, their orgs and, when a token is used, the token."""

    type: Literal["user"]
    id: str
    name: str
    fullname: str
    email: str | None
    emailVerified: bool
    isPro: bool
    canPay: bool
    periodEnd: str | None
    avatarUrl: str
    orgs: list[WhoAmIOrg]
    auth: WhoAmIAuth | None = None  # absent for a browser session
