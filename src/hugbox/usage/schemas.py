"""Wire shapes of the usage routes, named after huggingface_hub's types."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hugbox.wire import WireModel


class LFSFileInfo(WireModel):
    """An item of `list_lfs_files` (huggingface_hub's `LFSFileInfo`)."""

    fileOid: str
    filename: str
    oid: str
    pushedAt: str
    ref: str | None = None
    size: int


class LfsDeletions(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    sha: list[str] = Field(max_length=1000)
    rewrite_history: bool = Field(default=True, alias="rewriteHistory")


class LfsFilesBatch(BaseModel):
    """`permanently_delete_lfs_files`: `{"deletions": {"sha": [...], "rewriteHistory": bool}}`."""

    model_config = ConfigDict(extra="ignore")

    deletions: LfsDeletions


class RequestCount(WireModel):
    """Requests of a caller, org or repo: today, the last 7 days, the last 30 (UTC days)."""

    name: str
    today: int
    week: int
    month: int


class RankedValue(WireModel):
    name: str
    value: int


class InferenceCaller(WireModel):
    """A caller's inference today, as the allowance counted it."""

    name: str
    kind: Literal["user", "ip"]
    requests: int
    computeSeconds: float


class RateLimitedCaller(WireModel):
    """A caller refused (429) in the current window of one bucket."""

    name: str
    kind: Literal["user", "ip"]
    bucket: str
    since: str  # the first refusal in this window, ISO 8601 UTC
    refused: int
    quota: int


class AdminUsage(WireModel):
    """`GET /api/admin/usage`: the site admins' usage view (the `/admin/usage` page's data)."""

    days: int
    rateLimitsEnforced: bool
    window: int
    requests: dict[Literal["users", "anonymous", "orgs", "repos"], list[RequestCount]]
    storage: dict[Literal["users", "orgs", "repos"], list[RankedValue]]
    downloads: dict[Literal["users", "orgs", "repos"], list[RankedValue]]
    inference: list[InferenceCaller]
    rateLimited: list[RateLimitedCaller]
