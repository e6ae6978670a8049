"""Requests counted per caller and per repo in daily buckets (`usage/requests.py`), on a real
database: what a request's scope says of its caller and repo, the batch written once, the
rankings of the admin view by today, 7 and 30 days, and the days that age out."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from builders import Builder
from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import DetachedInstanceError

from hugbox.auth import service as auth
from hugbox.auth.service import Caller
from hugbox.db import Database
from hugbox.repos.models import RepoType
from hugbox.usage import ranking, requests
from hugbox.usage.batches import Batch
from hugbox.usage.models import CallerRequestDay, RepoRequestDay
from hugbox.usage.requests import RequestHit

TODAY = int(time.time()) // requests.DAY


def _scope(path: str, *, user_id: int | None = None, **params: object) -> dict[str, object]:
    state = {"bearer_caller": SimpleNamespace(user_id=user_id)} if user_id else {}
    return {"path": path, "client": ("10.1.2.3", 5), "state": state, "path_params": params}


def test_a_request_is_its_callers_and_its_repos(database: Database) -> None:
    batch = Batch[RequestHit](database, requests.record_requests)
    model = _scope("/api/models/Alice/M", user_id=4, namespace="Alice", name="M",
                   repo_type=RepoType.MODEL)  # fmt: skip
    requests.note_request(batch, model, 200, 0.0, 0)
    requests.note_request(batch, _scope("/datasets/a/d@main", namespace="a", name="d%40main",
                                        repo_type="dataset"), 404, 0.0, 0)  # fmt: skip
    requests.note_request(batch, _scope("/static/hub.css"), 200, 0.0, 0)  # not a request
    requests.note_request(batch, _scope("/health"), 200, 0.0, 0)
    assert batch._pending == Counter({
        RequestHit(TODAY, "u:4", "model", "alice/m"): 1,
        RequestHit(TODAY, "ip:10.1.2.3", "dataset", "a/d"): 1,
    })  # fmt: skip


def test_counts_add_up_per_day_and_unknown_repos_count_for_the_caller_only(
    database: Database, build: Builder
) -> None:
    alice = build.user("alice")
    repo = build.repo(alice, "m")
    build.session.commit()
    batch = Batch[RequestHit](database, requests.record_requests)
    for _ in range(3):
        batch.add(RequestHit(TODAY, f"u:{alice.id}", "model", "alice/m"))
    batch.add(RequestHit(TODAY, f"u:{alice.id}", "model", "alice/no-such-repo"))
    batch.add(RequestHit(TODAY, "ip:10.0.0.1", "dataset", "alice/m"))  # no such dataset
    assert batch.flush() == 5
    batch.add(RequestHit(TODAY, f"u:{alice.id}", None, None))
    assert batch.flush() == 1 and batch.flush() == 0
    with database.session() as session:
        callers = _pairs(session, select(CallerRequestDay.caller, CallerRequestDay.requests))
        repos = _pairs(session, select(RepoRequestDay.repo_pk, RepoRequestDay.requests))
    assert callers == {f"u:{alice.id}": 5, "ip:10.0.0.1": 1}
    assert repos == {repo.pk: 3}


def _pairs(session: Session, stmt: Select[Any]) -> dict[Any, Any]:
    return {row[0]: row[1] for row in session.execute(stmt)}


def test_rankings_by_today_seven_and_thirty_days(session: Session, build: Builder) -> None:
    alice, bob = build.user("alice"), build.user("bob")
    acme = build.org("acme", owner=alice)
    busy, quiet = build.repo(alice, "busy", namespace=acme.name), build.repo(bob, "quiet")
    today = requests.today()
    rows = [  # (caller, repo, age in days, requests)
        (f"u:{alice.id}", busy, 0, 2), (f"u:{alice.id}", busy, 20, 50),
        (f"u:{bob.id}", quiet, 0, 5), (f"u:{bob.id}", quiet, 3, 1),
        ("ip:10.0.0.1", busy, 40, 1000),  # older than 30 days: out of every window
    ]  # fmt: skip
    for caller, repo, age, count in rows:
        day = today - timedelta(days=age)
        session.add(CallerRequestDay(caller=caller, day=day, requests=count))
        session.merge(RepoRequestDay(repo_pk=repo.pk, day=day, requests=count))
    session.flush()
    month = ranking.top_requests(session, days=30)
    assert [(r.name, r.today, r.week, r.month) for r in month.users] == [
        ("alice", 2, 2, 52), ("bob", 5, 6, 6),
    ]  # fmt: skip
    assert [(r.name, r.month) for r in month.orgs] == [("acme", 52)]
    assert [(r.name, r.href) for r in month.repos] == [
        ("models/acme/busy", "/acme/busy"), ("models/bob/quiet", "/bob/quiet"),
    ]  # fmt: skip
    assert month.anonymous == []
    today_first = ranking.top_requests(session, days=1, limit=1)
    assert [r.name for r in today_first.users] == ["bob"]
    assert [r.name for r in today_first.repos] == ["models/bob/quiet"]
    requests.prune(session)
    assert session.scalar(select(CallerRequestDay.requests).where(
        CallerRequestDay.caller == "ip:10.0.0.1")) is None  # fmt: skip


def test_a_callers_account_expired_by_its_closed_session_still_names_it(
    database: Database,
) -> None:
    """A page's 403 rolls its session back, expiring the caller's account before the request
    is counted: its id comes from the identity, with no session to load it from."""
    with database.session() as session:
        alice = auth.create_user(session, name="alice", password="pw")
        session.flush()
        user_id = alice.id
        session.expire(alice)
    with pytest.raises(DetachedInstanceError):
        _ = alice.id  # what reading a `Caller`'s `user_id` would do
    scope = {"path": "/admin/plans", "client": ("10.0.0.2", 1), "state": {"caller": Caller(alice)}}
    assert requests.caller_of(scope) == f"u:{user_id}"
    assert requests.caller_of({"path": "/", "state": {"caller": Caller()}}) == "ip:-"
