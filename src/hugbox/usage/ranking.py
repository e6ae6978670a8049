"""The admin view's rankings: the accounts and repos that use the most storage, are downloaded
the most (the last 30 days), and make or receive the most requests (today, 7 days, 30 days)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from hugbox.auth.models import Account, AccountKind
from hugbox.repos.models import Repo, RepoType
from hugbox.usage import requests
from hugbox.usage.models import CallerRequestDay, RepoRequestDay

TOP = 10


@dataclass(frozen=True)
class Ranked:
    name: str
    value: int
    href: str


@dataclass(frozen=True)
class Rankings:
    """Each list biggest first: {"storage": [...], "downloads": [...]} per kind of thing."""

    users: dict[str, list[Ranked]]
    orgs: dict[str, list[Ranked]]
    repos: dict[str, list[Ranked]]


MEASURES = {"storage": Repo.used_storage, "downloads": Repo.downloads}


def top(session: Session, *, limit: int = TOP) -> Rankings:
    return Rankings(
        users={k: _accounts(session, AccountKind.USER, c, limit) for k, c in MEASURES.items()},
        orgs={k: _accounts(session, AccountKind.ORG, c, limit) for k, c in MEASURES.items()},
        repos={k: _repos(session, c, limit) for k, c in MEASURES.items()},
    )


def _accounts(
    session: Session, kind: AccountKind, column: InstrumentedAttribute[int], limit: int
) -> list[Ranked]:
    total = func.sum(column)
    stmt = (
        select(Account.name, total)
        .join(Repo, Repo.owner_id == Account.id)
        .where(Account.kind == kind)
        .group_by(Account.id, Account.name)
        .having(total > 0)
        .order_by(total.desc(), Account.name)
        .limit(limit)
    )
    return [Ranked(name, int(value), f"/{name}") for name, value in session.execute(stmt)]


def _repos(session: Session, column: InstrumentedAttribute[int], limit: int) -> list[Ranked]:
    stmt = select(Repo).where(column > 0).order_by(column.desc(), Repo.pk).limit(limit)
    return [
        Ranked(f"{r.type.value}s/{r.repo_id}", int(getattr(r, column.key)), _repo_href(r))
        for r in session.scalars(stmt)
    ]


def _repo_href(repo: Repo) -> str:
    prefix = "" if repo.type.value == "model" else f"/{repo.type.value}s"
    return f"{prefix}/{repo.repo_id}"


PERIODS = (1, 7, 30)  # today, the last 7 days, the last 30 (today included)


@dataclass(frozen=True)
class Requests:
    """Requests of one caller, org or repo: today, the last 7 days, the last 30."""

    name: str
    href: str
    today: int
    week: int
    month: int


@dataclass(frozen=True)
class RequestRankings:
    """Each list ranked by the requests of the chosen period, most first."""

    users: list[Requests]
    anonymous: list[Requests]  # by IP address
    orgs: list[Requests]
    repos: list[Requests]


def top_requests(session: Session, *, days: int = 30, limit: int = TOP) -> RequestRankings:
    by = PERIODS.index(days)
    callers = _callers(session, by, limit)
    return RequestRankings(
        users=_named_users(session, callers["u"]),
        anonymous=[Requests(key, "", *sums) for key, sums in callers["ip"]],
        orgs=_org_requests(session, by, limit),
        repos=_repo_requests(session, by, limit),
    )


def _sums(column: InstrumentedAttribute[int], day: InstrumentedAttribute[date]) -> list[Any]:
    today = requests.today()
    return [
        func.coalesce(func.sum(column).filter(day >= today - timedelta(days=n - 1)), 0)
        for n in PERIODS
    ]


def _callers(session: Session, by: int, limit: int) -> dict[str, list[tuple[str, list[int]]]]:
    """The top callers of each kind, `u` (user ids) and `ip` (addresses), by their key."""
    table = CallerRequestDay
    sums = _sums(table.requests, table.day)
    found: dict[str, list[tuple[str, list[int]]]] = {}
    for kind in ("u", "ip"):
        stmt = (
            select(table.caller, *sums)
            .where(table.caller.like(f"{kind}:%"), table.day >= _month_start())
            .group_by(table.caller)
            .order_by(sums[by].desc(), table.caller)
            .limit(limit)
        )
        found[kind] = [(caller.partition(":")[2], [int(s) for s in rest])
                       for caller, *rest in session.execute(stmt)]  # fmt: skip
    return found


def _named_users(session: Session, rows: list[tuple[str, list[int]]]) -> list[Requests]:
    ids = [int(key) for key, _ in rows if key.isdigit()]
    names = dict(session.execute(select(Account.id, Account.name).where(Account.id.in_(ids))).all())
    return [
        Requests(names[int(key)], f"/{names[int(key)]}", *sums)
        for key, sums in rows
        if key.isdigit() and int(key) in names  # a deleted user's requests are no one's
    ]


def _org_requests(session: Session, by: int, limit: int) -> list[Requests]:
    table = RepoRequestDay
    sums = _sums(table.requests, table.day)
    stmt = (
        select(Account.name, *sums)
        .select_from(table)
        .join(Repo, Repo.pk == table.repo_pk)
        .join(Account, Account.id == Repo.owner_id)
        .where(Account.kind == AccountKind.ORG, table.day >= _month_start())
        .group_by(Account.id, Account.name)
        .order_by(sums[by].desc(), Account.name)
        .limit(limit)
    )
    return [Requests(name, f"/{name}", *map(int, rest)) for name, *rest in session.execute(stmt)]


def _repo_requests(session: Session, by: int, limit: int) -> list[Requests]:
    table = RepoRequestDay
    sums = _sums(table.requests, table.day)
    stmt = (
        select(Repo.type, Repo.namespace, Repo.name, *sums)
        .select_from(table)
        .join(Repo, Repo.pk == table.repo_pk)
        .where(table.day >= _month_start())
        .group_by(Repo.pk, Repo.type, Repo.namespace, Repo.name)
        .order_by(sums[by].desc(), Repo.pk)
        .limit(limit)
    )
    ranked = []
    for repo_type, namespace, name, *rest in session.execute(stmt):
        prefix = "" if repo_type == RepoType.MODEL else f"/{repo_type.value}s"
        ranked.append(Requests(f"{repo_type.value}s/{namespace}/{name}",
                               f"{prefix}/{namespace}/{name}", *map(int, rest)))  # fmt: skip
    return ranked


def _month_start() -> date:
    return requests.today() - timedelta(days=PERIODS[-1] - 1)
