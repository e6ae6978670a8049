"""Plans of accounts on a real database: defaults, assignments, and the plan a user's requests
get (the best of their own and their orgs': org limits apply per member)."""

from __future__ import annotations

import pytest
from builders import Builder
from sqlalchemy.orm import Session

from hugbox.auth.models import OrgRole
from hugbox.errors import NotFound
from hugbox.plans import service
from hugbox.plans.config import load_catalog


@pytest.fixture(autouse=True)
def shipped_plans() -> None:
    service.use_catalog(load_catalog(None))


def test_accounts_have_the_default_plan_until_one_is_assigned(
    session: Session, build: Builder
) -> None:
    alice = build.user("alice")
    acme = build.org("acme", owner=alice)
    assert service.plan_for(session, alice).name == "free"
    assert service.plan_for(session, acme).name == "free"
    assert service.assign_plan(session, account="alice", plan="pro").name == "pro"
    assert service.plan_for(session, alice).is_pro
    service.assign_plan(session, account="alice", plan="free")  # reassigned, not duplicated
    assert service.plan_for(session, alice).name == "free"
    assert service.tiers_of(session, [alice, acme]) == {alice.id: "free", acme.id: "free"}


def test_a_member_gets_the_best_of_their_plan_and_their_orgs(
    session: Session, build: Builder
) -> None:
    alice, bob = build.user("alice"), build.user("bob")
    build.org("acme", owner=alice, members={bob: OrgRole.READ})
    service.assign_plan(session, account="acme", plan="team")
    service.assign_plan(session, account="alice", plan="enterprise")
    assert service.user_plan(session, bob.id).name == "team"  # the org's, per member
    assert service.user_plan(session, alice.id).name == "enterprise"  # her own is higher
    assert service.plan_for(session, bob).name == "free"  # his own plan is unchanged
    listed = {a.name: (a.plan.name, a.assigned) for a in service.list_account_plans(session)}
    assert listed == {"acme": ("team", True), "alice": ("enterprise", True), "bob": ("free", False)}


def test_a_token_is_limited_by_its_users_plan(session: Session, build: Builder) -> None:
    alice = build.user("alice")
    token = build.token(alice)
    service.assign_plan(session, account="alice", plan="pro")
    limited = service.limited_by_token(session, token)
    assert limited is not None and limited.plan.name == "pro" and limited.key == f"u{alice.id}"
    assert service.limited_by_token(session, "hf_not_a_token") is None


def test_assigning_an_unknown_plan_or_account_is_refused(session: Session, build: Builder) -> None:
    build.user("alice")
    with pytest.raises(NotFound, match="No plan named 'gold'"):
        service.assign_plan(session, account="alice", plan="gold")
    with pytest.raises(NotFound):
        service.assign_plan(session, account="nobody", plan="pro")
