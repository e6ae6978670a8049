"""Counting: one download per (visitor, repo, 5-minute window), daily buckets, the counters on the
repo row (30 days, all time, trending), on a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from builders import Builder
from sqlalchemy.orm import Session

from hugbox.db import Database
from hugbox.repos.models import Repo
from hugbox.usage import downloads
from hugbox.usage.downloads import DownloadCounter, Hit
from hugbox.usage.models import DownloadDay

NOW = datetime.now(UTC).timestamp()


def test_one_visitor_counts_once_per_window(database: Database, build: Builder) -> None:
    pk = build.repo(build.user("alice"), "m").pk
    build.session.commit()
    counter = DownloadCounter(database)
    for _ in range(3):  # HEAD and GET of config.json, then a second snapshot: one download
        counter.note(pk, "u:1", NOW)
    counter.note(pk, "ip:10.0.0.1", NOW)
    assert counter.flush() == 2
    counter.note(pk, "u:1", NOW)  # a later flush, the same window: still seen
    assert counter.flush() == 0
    counter.note(pk, "u:1", NOW + 300)  # the next window counts again
    assert counter.flush() == 1
    with database.session() as session:
        repo = session.get(Repo, pk)
        assert repo is not None
        assert (repo.downloads, repo.downloads_all_time) == (3, 3)


def test_thirty_days_and_all_time(session: Session, build: Builder) -> None:
    repo = build.repo(build.user("alice"), "m")
    today = datetime.now(UTC).date()
    for age, count in [(0, 2), (6, 7), (29, 1), (30, 100), (400, 5)]:
        session.add(DownloadDay(repo_pk=repo.pk, day=today - timedelta(days=age), count=count))
    session.flush()
    downloads.refresh_counters(session, {repo.pk}, today=today)
    session.refresh(repo)
    assert repo.downloads == 2 + 7 + 1  # the last 30 days, today included
    assert repo.downloads_all_time == 115
    # Today weighs 7/7, six days ago 1/7: (2 * 7 + 7 * 1) // 7.
    assert repo.trending_score == 3


def test_trending_counts_likes(session: Session, build: Builder) -> None:
    repo = build.repo(build.user("alice"), "m")
    repo.likes = 2
    session.flush()
    downloads.record_hits(session, [Hit(repo.pk, "u:1", int(NOW) // 300)])
    session.refresh(repo)
    assert repo.trending_score == 1 + downloads.LIKE_WEIGHT * 2


def test_daily_downloads_for_the_chart(session: Session, build: Builder) -> None:
    repo = build.repo(build.user("alice"), "m")
    today = datetime.now(UTC).date()
    session.add(DownloadDay(repo_pk=repo.pk, day=today, count=4))
    session.add(DownloadDay(repo_pk=repo.pk, day=today - timedelta(days=29), count=1))
    session.add(DownloadDay(repo_pk=repo.pk, day=date(2000, 1, 1), count=9))
    session.flush()
    days = downloads.daily_downloads(session, repo.pk)
    assert len(days) == 30
    assert (days[0], days[-1], sum(days)) == (1, 4, 5)


def test_a_deleted_repo_is_not_counted(database: Database, build: Builder) -> None:
    pk = build.repo(build.user("alice"), "m").pk
    build.session.commit()
    counter = DownloadCounter(database)
    counter.note(pk + 1000, "u:1", NOW)
    counter.note(pk, "u:1", NOW)
    assert counter.flush() == 1
