"""The admin view's rankings: the accounts and repos that use the most storage and are
downloaded the most (the last 30 days)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from hugbox.auth.models import Account, AccountKind
from hugbox.repos.models import Repo

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


def top(session: Session) -> Rankings:
    return Rankings(
        users={k: _accounts(session, AccountKind.USER, col) for k, col in MEASURES.items()},
        orgs={k: _accounts(session, AccountKind.ORG, col) for k, col in MEASURES.items()},
        repos={k: _repos(session, col) for k, col in MEASURES.items()},
    )


def _accounts(
    session: Session, kind: AccountKind, column: InstrumentedAttribute[int]
) -> list[Ranked]:
    total = func.sum(column)
    stmt = (
        select(Account.name, total)
        .join(Repo, Repo.owner_id == Account.id)
        .where(Account.kind == kind)
        .group_by(Account.id, Account.name)
        .having(total > 0)
        .order_by(total.desc(), Account.name)
        .limit(TOP)
    )
    return [Ranked(name, int(value), f"/{name}") for name, value in session.execute(stmt)]


def _repos(session: Session, column: InstrumentedAttribute[int]) -> list[Ranked]:
    stmt = select(Repo).where(column > 0).order_by(column.desc(), Repo.pk).limit(TOP)
    return [
        Ranked(f"{r.type.value}s/{r.repo_id}", int(getattr(r, column.key)), _repo_href(r))
        for r in session.scalars(stmt)
    ]


def _repo_href(repo: Repo) -> str:
    prefix = "" if repo.type.value == "model" else f"/{repo.type.value}s"
    return f"{prefix}/{repo.repo_id}"
