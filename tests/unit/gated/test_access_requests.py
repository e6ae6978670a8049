"""Access requests: transitions, the events they record and the notes they leave."""

from __future__ import annotations

import pytest
from builders import Builder
from sqlalchemy import select

from hugbox.auth.models import OrgRole
from hugbox.errors import BadRequest, Conflict, Forbidden, NotFound, RepoNotGated
from hugbox.events import service as events
from hugbox.events.models import RepoEvent
from hugbox.gated import service as gated
from hugbox.gated.form import gate_form
from hugbox.notifications import service as notifications


def _events(build: Builder) -> list[tuple[str, dict[str, object]]]:
    rows = build.session.scalars(select(RepoEvent).order_by(RepoEvent.id))
    kinds = (events.ACCESS_REQUEST_CREATED, events.ACCESS_REQUEST_DECIDED)
    return [(e.kind, e.data) for e in rows if e.kind in kinds]


def test_a_manual_request_waits_and_its_decision_is_announced(build: Builder) -> None:
    owner, user = build.user("owner"), build.user("user")
    repo = build.repo(owner, "m", gated="manual")
    grant = gated.ask_access(build.session, repo=repo, user=user)
    assert grant.status == "pending" and len(grant.request_id) == 24
    [owner_note] = notifications.list_notifications(build.session, user_pk=owner.id)
    assert owner_note.url == "/owner/m/access-requests" and "user asks" in owner_note.text
    gated.handle_request(
        build.session, repo=repo, by=owner, status="rejected", request_id=grant.request_id,
        reason="not now",
    )  # fmt: skip
    assert _events(build) == [
        ("access_request.created",
         {"request_id": grant.request_id, "status": "pending", "user": "user"}),
        ("access_request.decided",
         {"request_id": grant.request_id, "status": "rejected", "user": "user",
          "old_status": "pending", "by": "owner", "reason": "not now"}),
    ]  # fmt: skip
    [note] = notifications.list_notifications(build.session, user_pk=user.id)
    assert note.text == "Your request to access model owner/m was rejected: not now"
    assert (note.url, note.kind) == ("/owner/m", "access_request.decided")
    assert notifications.count_unread(build.session, user_pk=user.id) == 1
    notifications.mark_all_read(build.session, user_pk=user.id)
    assert notifications.count_unread(build.session, user_pk=user.id) == 0


def test_auto_gating_accepts_and_asking_again_changes_nothing(build: Builder) -> None:
    owner, user = build.user("owner"), build.user("user")
    repo = build.repo(owner, "a", gated="auto")
    first = gated.ask_access(build.session, repo=repo, user=user)
    assert first.status == "accepted" and first.decided_at is not None
    assert gated.ask_access(build.session, repo=repo, user=user) is first
    assert [kind for kind, _ in _events(build)] == ["access_request.created"]
    assert notifications.list_notifications(build.session, user_pk=owner.id) == []


def test_duplicate_transitions_and_rejected_users_are_refused(build: Builder) -> None:
    owner, user = build.user("owner"), build.user("user")
    repo = build.repo(owner, "m", gated="manual")
    gated.grant_access(build.session, repo=repo, user="user", by=owner)
    with pytest.raises(Conflict):
        gated.grant_access(build.session, repo=repo, user="user", by=owner)
    with pytest.raises(Conflict):
        gated.handle_request(build.session, repo=repo, by=owner, status="accepted", user="user")
    gated.handle_request(build.session, repo=repo, by=owner, status="rejected", user="user")
    with pytest.raises(Forbidden):
        gated.ask_access(build.session, repo=repo, user=user)
    gated.handle_request(build.session, repo=repo, by=owner, status="pending", user="user")
    with pytest.raises(Conflict):
        gated.handle_request(build.session, repo=repo, by=owner, status="pending", user="user")


def test_bad_decisions_are_refused(build: Builder) -> None:
    owner, user = build.user("owner"), build.user("user")
    repo, other = build.repo(owner, "m", gated="manual"), build.repo(owner, "o", gated="manual")
    grant = gated.ask_access(build.session, repo=other, user=user)
    cases = [
        (NotFound, {"status": "accepted", "request_id": grant.request_id}),  # another repo's
        (NotFound, {"status": "accepted", "user": "nobody"}),
        (BadRequest, {"status": "accepted"}),
        (BadRequest, {"status": "accepted", "user": "user", "request_id": grant.request_id}),
        (BadRequest, {"status": "granted", "user": "user"}),
        (BadRequest, {"status": "rejected", "user": "user", "reason": "x" * 201}),
        (BadRequest, {"status": "accepted", "user": "user", "reason": "why"}),
    ]
    for error, kwargs in cases:
        with pytest.raises(error):
            gated.handle_request(build.session, repo=repo, by=owner, **kwargs)  # type: ignore[arg-type]


def test_answers_are_checked_against_the_form_and_kept(build: Builder) -> None:
    owner, user = build.user("owner"), build.user("user")
    repo = build.repo(owner, "m", gated="manual")
    form = gate_form({"extra_gated_fields": {"Company": "text", "Agree": "checkbox"}})
    with pytest.raises(BadRequest):
        gated.ask_access(build.session, repo=repo, user=user, form=form, answers={})
    answers = {"Company": "Acme", "Agree": "on"}
    grant = gated.ask_access(build.session, repo=repo, user=user, form=form, answers=answers)
    assert grant.fields == {"Company": "Acme", "Agree": True}
    with pytest.raises(RepoNotGated):
        gated.ask_access(build.session, repo=build.repo(owner, "open"), user=user)


def test_lists_page_by_offset(build: Builder) -> None:
    owner = build.user("owner")
    repo = build.repo(owner, "m", gated="manual")
    for name in ("u1", "u2", "u3"):
        gated.ask_access(build.session, repo=repo, user=build.user(name))
    page = gated.list_requests(build.session, repo=repo, status="pending", offset=1, limit=1)
    assert [user.name for _, user in page] == ["u2"]
    with pytest.raises(NotFound):
        gated.list_requests(build.session, repo=repo, status="granted")


def test_an_orgs_admins_hear_of_requests_to_its_repos(build: Builder) -> None:
    admin, reader, user = build.user("boss"), build.user("reader"), build.user("user")
    build.org("lab", owner=admin, members={reader: OrgRole.READ})
    repo = build.repo(admin, "m", namespace="lab", gated="manual")
    gated.ask_access(build.session, repo=repo, user=user)
    [note] = notifications.list_notifications(build.session, user_pk=admin.id)
    assert note.url == "/lab/m/access-requests"
    assert notifications.list_notifications(build.session, user_pk=reader.id) == []
