"""Discussions on a real database and real git: numbering, filters, timelines, who may change
what, squash merges and conflicts, and the repo event each action records."""

from __future__ import annotations

import pytest
from builders import Builder
from sqlalchemy import select

from hugbox.auth.models import Account, TokenRole
from hugbox.community import actions, service
from hugbox.errors import BadRequest, Conflict, Forbidden, NotFound
from hugbox.events.models import RepoEvent
from hugbox.repos import pulls
from hugbox.repos.models import Repo
from hugbox.storage import git


@pytest.fixture
def alice(build: Builder) -> Account:
    return build.user("alice")


@pytest.fixture
def bob(build: Builder) -> Account:
    return build.user("bob")


@pytest.fixture
def repo(build: Builder, alice: Account) -> Repo:
    repo = build.repo(alice, "model")
    build.commit(repo, {"a.txt": b"one\ntwo\n"}, by=build.caller(alice))
    return repo


def _open(build: Builder, repo: Repo, by: Account, title: str, pr: bool = False) -> int:
    return actions.create_discussion(
        build.session, build.store, caller=build.caller(by), repo=repo, title=title,
        description=f"about {title}", pull_request=pr,
    )  # fmt: skip


def _kinds(build: Builder) -> list[tuple[str, object, object]]:
    rows = build.session.scalars(select(RepoEvent).order_by(RepoEvent.id)).all()
    return [(r.kind, r.data.get("num"), r.data.get("status")) for r in rows
            if r.kind.startswith("discussion.")]  # fmt: skip


def test_numbers_filters_and_pages(
    build: Builder, repo: Repo, alice: Account, bob: Account
) -> None:
    nums = [_open(build, repo, alice, f"question {i}") for i in range(55)]
    pr = _open(build, repo, bob, "a draft", pr=True)
    assert nums == list(range(1, 56)) and pr == 56
    first = service.list_discussions(build.session, repo, page=0)
    assert (first.count, first.start, len(first.discussions)) == (56, 0, 50)
    assert first.discussions[0].num == 56 and first.discussions[0].status == "draft"
    second = service.list_discussions(build.session, repo, page=1)
    assert [d.num for d in second.discussions] == [6, 5, 4, 3, 2, 1]
    prs = service.list_discussions(build.session, repo, page=0, kind="pull_request")
    assert [d.num for d in prs.discussions] == [56]
    by_bob = service.list_discussions(build.session, repo, page=0, author="BOB")
    assert [d.num for d in by_bob.discussions] == [56]
    first_one = service.get_discussion(build.session, repo, 1)
    actions.change_status(
        build.session, caller=build.caller(alice), repo=repo, d=first_one, status="closed"
    )
    closed = service.list_discussions(build.session, repo, page=0, status="closed")
    assert [d.num for d in closed.discussions] == [1] and closed.num_closed == 1
    opened = service.list_discussions(build.session, repo, page=0, status="open")
    assert opened.count == 55  # the draft counts as open
    with pytest.raises(NotFound):
        service.get_discussion(build.session, repo, 57)


def test_timeline_and_who_may_change_what(
    build: Builder, repo: Repo, alice: Account, bob: Account
) -> None:
    num = _open(build, repo, bob, "Why?")
    d = service.get_discussion(build.session, repo, num)
    as_alice, as_bob = build.caller(alice), build.caller(bob)
    said = actions.comment(build.session, caller=as_alice, repo=repo, d=d, content="Because")
    with pytest.raises(Forbidden):
        actions.edit_comment(build.session, caller=as_bob, repo=repo, d=d, comment_id=said.id,
                             content="no")  # fmt: skip
    opening = d.opening_comment_id
    edited = actions.edit_comment(build.session, caller=as_bob, repo=repo, d=d,
                                  comment_id=opening.upper(), content="Why not?")  # fmt: skip
    hidden = actions.edit_comment(build.session, caller=as_alice, repo=repo, d=d,
                                  comment_id=said.id, content="", hide=True)  # fmt: skip
    actions.rename(build.session, caller=as_bob, repo=repo, d=d, title="Why ever?")
    with pytest.raises(BadRequest):
        actions.rename(build.session, caller=as_bob, repo=repo, d=d, title="no")
    with pytest.raises(BadRequest):
        actions.change_status(build.session, caller=as_bob, repo=repo, d=d, status="merged")
    stranger = build.caller(build.user("carol"))
    with pytest.raises(Forbidden):
        actions.change_status(build.session, caller=stranger, repo=repo, d=d, status="closed")
    reader = build.caller(alice, TokenRole.READ)
    with pytest.raises(Forbidden):
        actions.change_status(build.session, caller=reader, repo=repo, d=d, status="closed")
    timeline = service.thread(build.session, build.store, repo, d).events
    assert [e.type for e in timeline] == ["comment", "comment", "title-change"]
    assert timeline[0] == edited and timeline[0].content == "Why not?" and timeline[0].edited
    assert timeline[1] == hidden and hidden.content == service.HIDDEN_TEXT and hidden.hidden
    assert len({e.id for e in timeline}) == 3 and all(len(e.id) == 24 for e in timeline)
    assert _kinds(build) == [
        ("discussion.created", 1, "open"), ("discussion.commented", 1, "open"),
        ("discussion.commented", 1, "open"), ("discussion.commented", 1, "open"),
        ("discussion.updated", 1, "open"),
    ]  # fmt: skip


def test_squash_merge(build: Builder, repo: Repo, alice: Account, bob: Account) -> None:
    num = _open(build, repo, bob, "More lines", pr=True)
    d = service.get_discussion(build.session, repo, num)
    with pytest.raises(BadRequest):  # a draft is published first
        actions.merge(build.session, build.store, caller=build.caller(alice), repo=repo, d=d)
    build.commit(repo, {"b.txt": b"b"}, by=build.caller(alice), revision="refs/pr/1")
    actions.change_status(build.session, caller=build.caller(bob), repo=repo, d=d, status="open")
    with pytest.raises(Forbidden):
        actions.merge(build.session, build.store, caller=build.caller(bob), repo=repo, d=d)
    oid = actions.merge(build.session, build.store, caller=build.caller(alice), repo=repo, d=d)
    gitrepo = build.store.open(repo)
    head = git.resolve(gitrepo, "main")
    assert head is not None and str(head.id) == oid == d.merge_commit and d.status == "merged"
    assert head.message.startswith("More lines (#1)\n\n- add files (")
    assert "Co-authored-by: alice <" in head.message and len(head.parents) == 1
    thread = service.thread(build.session, build.store, repo, d)
    kinds = [e.type for e in thread.events]
    assert kinds == ["comment", "commit", "status-change", "status-change"]
    assert _kinds(build)[-1] == ("discussion.updated", 1, "merged")
    merged = build.session.scalars(select(RepoEvent).order_by(RepoEvent.id.desc())).first()
    assert merged is not None and merged.data["merge_commit"] == oid


def test_conflicts(build: Builder, repo: Repo, alice: Account) -> None:
    num = _open(build, repo, alice, "Change two", pr=True)
    build.commit(repo, {"a.txt": b"one\nTWO\n"}, by=build.caller(alice), revision="refs/pr/1")
    build.commit(repo, {"a.txt": b"one\nzwei\n"}, by=build.caller(alice))
    d = service.get_discussion(build.session, repo, num)
    state = pulls.pr_state(build.store, repo, num=num, base_ref=d.base_ref, merging=True)
    assert state.conflicts == ["a.txt"] and len(state.commits) == 1
    assert "-two\n+TWO" in pulls.pr_diff(build.store, repo, state)
    actions.change_status(build.session, caller=build.caller(alice), repo=repo, d=d, status="open")
    with pytest.raises(Conflict):
        actions.merge(build.session, build.store, caller=build.caller(alice), repo=repo, d=d)


def test_squash_message() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 1, 1, tzinfo=UTC)
    made = [pulls.PrCommit("a" * 40, "one", "Bob", "bob@x", moment, []),
            pulls.PrCommit("b" * 40, "two", "Bob", "bob@x", moment, [])]  # fmt: skip
    assert pulls.squash_message("Title", 3, made) == (
        f"Title (#3)\n\n- one ({'a' * 40})\n- two ({'b' * 40})\n\nCo-authored-by: Bob <bob@x>\n"
    )
