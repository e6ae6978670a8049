"""HF's JSON shapes for access requests to gated repos (huggingface_hub's `AccessRequest`)."""

from __future__ import annotations

from typing import Any, Literal

from hugbox.auth.models import Account
from hugbox.repos.models import AccessGrant
from hugbox.repos.schemas import iso
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
    fields: dict[str, Any] | None = None  # the answers to the card's `extra_gated_fields`


def request_json(grant: AccessGrant, user: Account) -> dict[str, Any]:
    """One request as the list routes send it; the email stays unshared when an admin granted
    access without a request (as HF does)."""
    email = None if grant.granted_by_id is not None else user.email
    return {
        "requestId": grant.request_id,
        "status": grant.status,
        "timestamp": iso(grant.created_at),
        "user": {"user": user.name, "fullname": user.fullname, "email": email},
        "fields": grant.fields,
    }
