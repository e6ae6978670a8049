"""Access-request decisions reach the audit log through the gated part's event, once each."""

from __future__ import annotations

from builders import Builder

from hugbox import audit
from hugbox.accounts import audit_events
from hugbox.db import Database
from hugbox.events import service as events
from hugbox.gated import service as gated
from hugbox.repos.store import RepoStore


def test_each_decision_is_audited_once_by_its_subscriber(
    database: Database, store: RepoStore
) -> None:
    with database.session() as session:
        build = Builder(session, store)
        owner, user = build.user("owner"), build.user("user")
        repo = build.repo(owner, "m", gated="manual")
        grant = gated.ask_access(session, repo=repo, user=user)
        gated.handle_request(
            session, repo=repo, by=owner, status="rejected", request_id=grant.request_id,
            reason="not now",
        )  # fmt: skip
    delivery = events.Delivery(database, [audit_events.SUBSCRIBER])
    delivery.deliver({})
    delivery.deliver({})  # nothing new: no second entry
    with database.session() as session:
        query = audit.AuditQuery(namespace="owner", action="access_request.decided")
        [entry] = audit.list_entries(session, query)
    assert (entry.actor, entry.repo_type, entry.repo_id) == ("owner", "model", "owner/m")
    assert entry.data["user"] == "user" and entry.data["status"] == ["pending", "rejected"]
    assert entry.data["reason"] == "not now" and entry.data["decidedAt"].endswith("Z")
