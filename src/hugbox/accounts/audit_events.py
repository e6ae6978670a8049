"""Audit entries for changes other parts announce as repo events rather than record themselves:
a gated repo's access-request decisions (the gated part emits `access_request.decided`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hugbox import audit
from hugbox.events import service as events
from hugbox.events.models import RepoEvent


def access_decided(session: Session, event: RepoEvent) -> None:
    """One entry per decision, written as the subscriber's cursor moves past it (at most once).
    The entry is dated when delivered; `decidedAt` is the decision's own time."""
    data = event.data
    audit.record(
        session, "access_request.decided", actor=data.get("by"),
        namespace=event.repo_id.partition("/")[0], repo=(event.repo_type, event.repo_id),
        user=data.get("user"), status=[data.get("old_status"), data.get("status")],
        reason=data.get("reason"), request_id=data.get("request_id"),
        decidedAt=event.created_at.isoformat().replace("+00:00", "Z"),
    )  # fmt: skip


SUBSCRIBER = events.Subscriber(
    "audit.access_requests", {events.ACCESS_REQUEST_DECIDED}, access_decided
)
