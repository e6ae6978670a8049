"""From repo events to deliveries, on a real SQLite database: HF's scopes and payloads for each
kind of event (the discussion kinds recorded directly, as the community part will record them),
domains, who may hear of a private repo, and an event handed over twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from builders import Builder
from huggingface_hub import WebhookPayload
from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.auth.models import Account, OrgRole
from hugbox.events import service as events
from hugbox.events.models import RepoEvent
from hugbox.jobs.models import Job
from hugbox.repos.models import Repo
from hugbox.webhooks import service, targets
from hugbox.webhooks.models import Webhook, WebhookDelivery

HUB = "https://hub.example"
ALLOW = targets.AllowList.parse([])
COMMENT = "ab" * 12


def webhook(session: Session, owner: Account, *watched: str, domains: Any = None) -> Webhook:
    items = [service.Watched(*item.split(":", 1)) for item in watched]
    changes = service.Changes("https://hooks.example.com/x", items, domains, "s")
    return service.create_webhook(session, owner=owner, changes=changes, hub_url=HUB, allow=ALLOW)


def record(session: Session, repo: Repo, kind: str, **data: Any) -> RepoEvent:
    key = events.RepoKey(pk=repo.pk, type=repo.type.value, repo_id=repo.repo_id)
    event = events.record(session, key, kind, **data)
    session.flush()
    return event


def deliveries(session: Session, hook: Webhook, event: RepoEvent) -> list[WebhookDelivery]:
    service.on_event(session, event, public_url=None)
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.webhook_id == hook.id, WebhookDelivery.event_id == event.id
    )
    return list(session.scalars(stmt.order_by(WebhookDelivery.scope)))


DISCUSSION = {"num": 3, "title": "Fix card", "status": "open", "is_pull_request": False,
              "author": "bob"}  # fmt: skip


@pytest.fixture
def people(build: Builder) -> tuple[Account, Account, Repo]:
    alice, bob = build.user("alice"), build.user("bob")
    return alice, bob, build.repo(alice, "m")


def test_a_new_discussion_is_a_discussion_and_a_comment_create(
    session: Session, people: tuple[Account, Account, Repo]
) -> None:
    alice, bob, repo = people
    hook = webhook(session, alice, "model:alice/m")
    comment = {"id": COMMENT, "author": "bob", "content": "Hello"}
    event = record(session, repo, events.DISCUSSION_CREATED, **DISCUSSION, comment=comment)
    made = deliveries(session, hook, event)
    assert [(d.scope, d.action) for d in made] == [
        ("discussion", "create"), ("discussion.comment", "create")
    ]  # fmt: skip
    body = made[0].payload
    discussion = body["discussion"]
    assert discussion["num"] == 3 and discussion["title"] == "Fix card"
    assert discussion["status"] == "open" and discussion["isPullRequest"] is False
    assert discussion["author"] == {"id": f"{bob.id:024x}"}
    assert discussion["url"] == {
        "web": f"{HUB}/alice/m/discussions/3", "api": f"{HUB}/api/models/alice/m/discussions/3"
    }  # fmt: skip
    assert "changes" not in discussion and len(discussion["id"]) == 24
    assert body["comment"] == {
        "id": COMMENT, "author": {"id": f"{bob.id:024x}"}, "hidden": False, "content": "Hello",
        "url": {"web": f"{HUB}/alice/m/discussions/3#{COMMENT}"},
    }  # fmt: skip
    assert "headSha" not in body["repo"] and body["webhook"] == {"id": hook.id, "version": 3}
    for delivery in made:
        WebhookPayload.model_validate(delivery.payload)
    jobs = session.scalars(select(Job.key).where(Job.kind == service.DELIVER_JOB)).all()
    assert sorted(jobs) == sorted(d.id for d in made)


def test_a_merged_pull_request_names_its_merge_commit(
    session: Session, people: tuple[Account, Account, Repo]
) -> None:
    alice, _, repo = people
    hook = webhook(session, alice, "user:alice")
    data = {**DISCUSSION, "is_pull_request": True, "status": "merged"}
    event = record(
        session, repo, events.DISCUSSION_UPDATED, **data,
        changes={"status": ["open", "merged"]}, merge_commit="c" * 40,
    )  # fmt: skip
    [made] = deliveries(session, hook, event)
    assert (made.scope, made.action) == ("discussion", "update")
    discussion = made.payload["discussion"]
    assert discussion["status"] == "merged" and discussion["isPullRequest"] is True
    assert discussion["changes"] == {"base": "refs/heads/main", "mergeCommitId": "c" * 40}
    WebhookPayload.model_validate(made.payload)


@pytest.mark.parametrize(
    ("flags", "action", "content"),
    [({}, "create", True), ({"edited": True}, "update", True), ({"hidden": True}, "update", False)],
)
def test_comments_are_created_edited_and_hidden(
    session: Session, people: tuple[Account, Account, Repo], flags: dict[str, bool], action: str,
    content: bool,
) -> None:  # fmt: skip
    alice, _, repo = people
    hook = webhook(session, alice, "user:alice")
    comment = {"id": COMMENT, "author": "bob", "content": "text", "hidden": False, "edited": False}
    event = record(session, repo, events.DISCUSSION_COMMENTED, **DISCUSSION,
                   comment={**comment, **flags})  # fmt: skip
    [made] = deliveries(session, hook, event)
    assert (made.scope, made.action) == ("discussion.comment", action)
    assert ("content" in made.payload["comment"]) is content
    assert made.payload["comment"]["hidden"] is bool(flags.get("hidden"))


def test_domains_choose_what_is_sent(
    session: Session, people: tuple[Account, Account, Repo]
) -> None:
    alice, _, repo = people
    repo_only = webhook(session, alice, "user:alice", domains=["repo"])
    event = record(session, repo, events.DISCUSSION_CREATED, **DISCUSSION, comment={"id": COMMENT})
    assert deliveries(session, repo_only, event) == []
    moved = record(session, repo, events.REF_MOVED, ref="refs/heads/dev", old=None, new="d" * 40)
    [made] = deliveries(session, repo_only, moved)
    assert made.payload["updatedRefs"] == [
        {"ref": "refs/heads/dev", "oldSha": None, "newSha": "d" * 40}
    ]


def test_a_private_repo_reaches_only_those_who_can_read_it(
    session: Session, build: Builder, people: tuple[Account, Account, Repo]
) -> None:
    alice, bob, _ = people
    carol = build.user("carol")
    build.org("acme", owner=alice, members={carol: OrgRole.READ})
    private = build.repo(alice, "secret", namespace="acme", private=True)
    hooks = {who.name: webhook(session, who, "org:acme") for who in (alice, bob, carol)}
    event = record(
        session, private, events.DISCUSSION_CREATED, **DISCUSSION, comment={"id": COMMENT}
    )
    heard = {name: len(deliveries(session, hook, event)) for name, hook in hooks.items()}
    assert heard == {"alice": 2, "bob": 0, "carol": 2}
    gone = record(session, private, events.REPO_DELETED)
    session.delete(private)
    session.flush()
    heard = {name: len(deliveries(session, hook, gone)) for name, hook in hooks.items()}
    assert heard == {"alice": 1, "bob": 0, "carol": 1}


def test_an_event_handed_over_twice_is_delivered_once(
    session: Session, people: tuple[Account, Account, Repo]
) -> None:
    alice, _, repo = people
    hook = webhook(session, alice, "model:alice/m")
    event = record(session, repo, events.REPO_UPDATED, private=[False, True])
    first = deliveries(session, hook, event)
    again = deliveries(session, hook, event)
    assert [d.id for d in first] == [d.id for d in again]
    assert first[0].payload["updatedConfig"] == {"private": True}


def test_a_disabled_webhook_gets_nothing_and_a_moved_repo_says_where(
    session: Session, people: tuple[Account, Account, Repo]
) -> None:
    alice, _, repo = people
    hook = webhook(session, alice, "model:alice/m")
    service.set_disabled(session, webhook=hook, disabled=True)
    event = record(session, repo, events.REPO_UPDATED, gated=[None, "auto"])
    assert deliveries(session, hook, event) == []
    service.set_disabled(session, webhook=hook, disabled=False)
    moved = record(session, repo, events.REPO_MOVED, old_id="alice/m", new_id="alice/m2")
    [made] = deliveries(session, hook, moved)
    assert made.payload["movedTo"] == {"name": "alice/m2", "owner": {"id": f"{alice.id:024x}"}}
    assert made.payload["repo"]["name"] == "alice/m"


def test_settled_deliveries_are_forgotten_after_a_while(
    session: Session, people: tuple[Account, Account, Repo]
) -> None:
    alice, _, repo = people
    hook = webhook(session, alice, "model:alice/m")
    old = deliveries(session, hook, record(session, repo, events.REPO_UPDATED, gated=[1, 2]))[0]
    old.status = "succeeded"
    pending = deliveries(session, hook, record(session, repo, events.REPO_DELETED))[0]
    assert service.prune_deliveries(session, older_than=timedelta(0)) == 1
    session.expire_all()
    assert session.get(WebhookDelivery, old.id) is None
    assert session.get(WebhookDelivery, pending.id) is not None
