"""Download counting off the request path: a download only joins an in-memory batch
(`usage/batches.py`), written every second in one transaction (`DownloadCounter.flush`), where
the 5-minute dedup marks (shared by every hub process through the database) decide what counts.

Counters on the repo row, recomputed after each flush for the repos it touched and hourly for
all (days leave the 30-day window, likes change):
- `downloads`: the sum of the last 30 daily buckets (today included);
- `downloads_all_time`: the sum of every bucket;
- `trending_score` = Σ over the last 7 days d = 0…6 (0 = today) of downloads_d * (7 - d) / 7,
  plus 10 * likes, rounded down. Likes are a total (no dated likes live here), so a repo's
  likes keep lifting it while its recent downloads rank it among the liked.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, case, delete, func, or_, select
from sqlalchemy.orm import Session

from hugbox.db import Database
from hugbox.repos import service as repos
from hugbox.repos.models import Repo
from hugbox.usage import rules
from hugbox.usage.batches import Batch, upsert
from hugbox.usage.models import DownloadDay, DownloadMark

log = logging.getLogger(__name__)

WINDOW_DAYS = 30
TRENDING_DAYS = 7
LIKE_WEIGHT = 10


class Hit(NamedTuple):  # a tuple: made on every counted download, the cheapest to build
    repo_pk: int
    visitor: str  # "u:<user id>", or "ip:<address>" for an anonymous caller
    window: int  # epoch seconds // 300


class DownloadCounter(Batch[Hit]):
    """Downloads this process saw and has not written yet (a burst of one visitor's fetches in
    one window is one entry before it reaches the database)."""

    def __init__(self, database: Database):
        super().__init__(database, record_hits)

    def note(self, repo_pk: int, visitor: str, at: float) -> None:
        self.add(Hit(repo_pk, visitor, rules.window_of(at)))


def record_hits(session: Session, hits: Iterable[Hit]) -> int:
    """Count the hits whose (repo, visitor, window) is new, in their day's bucket."""
    days: Counter[tuple[int, date]] = Counter()
    for hit in hits:
        if _mark(session, hit):
            days[(hit.repo_pk, _day_of(hit.window))] += 1
    for (repo_pk, day), count in days.items():
        _add_to_day(session, repo_pk, day, count)
    refresh_counters(session, {repo_pk for repo_pk, _day in days}, today=_today())
    return sum(days.values())


def _mark(session: Session, hit: Hit) -> bool:
    row = {"repo_pk": hit.repo_pk, "visitor": hit.visitor, "window": hit.window}
    insert = upsert(session)(DownloadMark).values(row).on_conflict_do_nothing()
    # RETURNING says whether the row went in (psycopg's rowcount does not, with ON CONFLICT).
    returning = insert.returning(DownloadMark.repo_pk)
    try:
        with session.begin_nested():
            return session.execute(returning).first() is not None
    except Exception:  # the repo was deleted since: its download no longer matters
        log.debug("download of repo %s not counted", hit.repo_pk, exc_info=True)
        return False


def _add_to_day(session: Session, repo_pk: int, day: date, count: int) -> None:
    stmt = upsert(session)(DownloadDay).values(repo_pk=repo_pk, day=day, count=count)
    stmt = stmt.on_conflict_do_update(
        index_elements=["repo_pk", "day"], set_={"count": DownloadDay.count + count}
    )
    session.execute(stmt)


def _day_of(window: int) -> date:
    return datetime.fromtimestamp(window * rules.WINDOW_SECONDS, UTC).date()


def _today() -> date:
    return datetime.now(UTC).date()


def refresh_counters(session: Session, repo_pks: set[int], *, today: date) -> None:
    """Recompute the counters on the rows of `repo_pks` from their daily buckets."""
    if not repo_pks:
        return
    recent = dict.fromkeys(repo_pks, (0, 0, 0))
    for row in session.execute(_sums(repo_pks, today)):
        pk, month, week, total = tuple(row)
        recent[pk] = (int(month or 0), int(week or 0), int(total or 0))
    likes = dict(session.execute(select(Repo.pk, Repo.likes).where(Repo.pk.in_(repo_pks))).all())
    for pk, (month, week, total) in recent.items():
        if pk in likes:
            trending = week + LIKE_WEIGHT * likes[pk]
            repos.set_counters(
                session, repo_pk=pk, downloads=month, downloads_all_time=total,
                trending_score=trending,
            )  # fmt: skip


def _sums(repo_pks: set[int], today: date) -> Select[Any]:
    """Per repo: downloads in the last 30 days, the 7-day weighted sum, the total."""
    month_start = today - timedelta(days=WINDOW_DAYS - 1)
    in_month = func.sum(DownloadDay.count).filter(DownloadDay.day >= month_start)
    return (
        select(DownloadDay.repo_pk, in_month, _weighted_week(today), func.sum(DownloadDay.count))
        .where(DownloadDay.repo_pk.in_(repo_pks))
        .group_by(DownloadDay.repo_pk)
    )


def _weighted_week(today: date) -> ColumnElement[Any]:
    # Each of the last 7 days weighs (7 - age) / 7: integers summed, divided once at the end.
    weights = [
        (DownloadDay.day == today - timedelta(days=age), TRENDING_DAYS - age)
        for age in range(TRENDING_DAYS)
    ]
    return func.sum(DownloadDay.count * case(*weights, else_=0)) / TRENDING_DAYS


def roll_up(database: Database) -> int:
    """The hourly job: counters of every repo that has any, as days leave the windows; marks
    older than a day go (their windows closed long ago)."""
    today = _today()
    with database.session() as session:
        active = select(DownloadDay.repo_pk).where(
            DownloadDay.day >= today - timedelta(days=WINDOW_DAYS)
        )
        counted = select(Repo.pk).where(
            or_(Repo.downloads > 0, Repo.trending_score > 0, Repo.likes > 0, Repo.pk.in_(active))
        )
        pks = set(session.scalars(counted))
        refresh_counters(session, pks, today=today)
        old = rules.window_of(datetime.now(UTC).timestamp()) - 24 * 3600 // rules.WINDOW_SECONDS
        session.execute(delete(DownloadMark).where(DownloadMark.window < old))
        return len(pks)


def daily_downloads(session: Session, repo_pk: int, *, days: int = WINDOW_DAYS) -> list[int]:
    """The repo's downloads per day over the last `days`, oldest first (today last)."""
    today = _today()
    start = today - timedelta(days=days - 1)
    rows = session.execute(
        select(DownloadDay.day, DownloadDay.count).where(
            DownloadDay.repo_pk == repo_pk, DownloadDay.day >= start
        )
    )
    by_day: dict[date, int] = {day: count for day, count in rows}  # noqa: C416 (typed)
    return [by_day.get(start + timedelta(days=n), 0) for n in range(days)]
