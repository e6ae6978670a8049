"""HF's JSON shapes for access requests to gated repos (huggingface_hub's `AccessRequest`)."""

from __future__ import annotations

from typing import Any, Literal

from hugbox.wire import WireModel

AccessStatus = Literal["pending", "accepted", "rejected"]  # gated.service.STATUSES


class AccessRequested(WireModel):
    """`request_access`'s answer: the request's status ("pending", or "accepted" when the repo
    accepts requests automatically)."""

    status: AccessStatus


class AccessRequestUser(WireModel):
    user: str
    fullname: str
    email: str | None


class AccessRequest(WireModel):
    requestId: str
    status: AccessStatus
    timestamp: str
    user: AccessRequestUser
    fields: dict[str, Any] | None = None  # answers to the gate's form (hugbox asks none)
