"""An org's SSO settings on the wire: what its admins read (never the secret) and send."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hugbox.wire import WireModel

Role = Literal["read", "contributor", "write", "admin"]


class SsoSettings(WireModel):
    issuer: str
    clientId: str
    clientSecretSet: bool  # the secret itself is never sent back
    roleClaim: str
    roleMapping: dict[str, Role]
    defaultRole: Role
    requireSso: bool
    updatedAt: str


class SsoSettingsUpdate(BaseModel):
    """PUT's body; `clientSecret` left out keeps the stored one."""

    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(min_length=1, max_length=500)
    clientId: str = Field(min_length=1, max_length=500)
    clientSecret: str | None = Field(default=None, max_length=2000)
    roleClaim: str = Field(default="groups", min_length=1, max_length=100)
    roleMapping: dict[str, Role] = Field(default_factory=dict)
    defaultRole: Role = "read"
    requireSso: bool = False
