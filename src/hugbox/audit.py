"""The audit log: security-relevant changes (sign-ins, tokens, members, visibility, gating,
deletions and moves, access decisions, scan findings), append-only, for org and site admins.

Infrastructure like `jobs` and `events`, not a domain: the code that makes a change calls
`record` in the change's own transaction, so an entry exists exactly when its change does. The
client's address comes from the request (set by the outermost middleware); callers name the
actor. Rows are never updated or deleted: the migration adds triggers that refuse both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Index, Select, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hugbox.db import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    """One change. Actor, namespace and repo are names as they were then."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_namespace_id", "namespace", "id"),
        Index("ix_audit_entries_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(64))  # `token.create`, `repo.delete`, ...
    actor: Mapped[str | None] = mapped_column(String(96), default=None)  # None: the hub itself
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    # The user or org whose admins see the entry: a repo's owner, an org, a token's user.
    namespace: Mapped[str | None] = mapped_column(String(96), default=None)
    repo_type: Mapped[str | None] = mapped_column(String(16), default=None)
    repo_id: Mapped[str | None] = mapped_column(String(200), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


_client_ip: ContextVar[str | None] = ContextVar("audit_client_ip", default=None)
PAGE = 100
EXPORT_BATCH = 1000


def set_client(ip: str | None) -> None:
    """The address of the request being served (middleware), for the entries it records."""
    _client_ip.set(ip)


def record(
    session: Session, action: str, *, actor: str | None, namespace: str | None,
    repo: tuple[str, str] | None = None, **data: Any,
) -> AuditEntry:  # fmt: skip
    """Append an entry in the caller's transaction. `repo` is (type, id) as it is now."""
    entry = AuditEntry(
        action=action, actor=actor, ip=_client_ip.get(), namespace=namespace,
        repo_type=repo[0] if repo else None, repo_id=repo[1] if repo else None, data=data,
    )  # fmt: skip
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditQuery:
    """What an admin filters by; `namespace` None is the whole hub (site admins only)."""

    namespace: str | None = None
    actor: str | None = None
    repo: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def select(self) -> Select[AuditEntry]:
        stmt = select(AuditEntry)
        for column, value in ((AuditEntry.namespace, self.namespace),
                              (AuditEntry.actor, self.actor), (AuditEntry.repo_id, self.repo),
                              (AuditEntry.action, self.action)):  # fmt: skip
            if value is not None:
                stmt = stmt.where(column == value)
        if self.since is not None:
            stmt = stmt.where(AuditEntry.created_at >= self.since)
        if self.until is not None:
            stmt = stmt.where(AuditEntry.created_at < self.until)
        return stmt


def list_entries(
    session: Session, query: AuditQuery, *, before: int | None = None, limit: int = PAGE
) -> list[AuditEntry]:
    """Newest first; `before` (an entry id) pages back."""
    stmt = query.select().order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before)
    return list(session.scalars(stmt))


def as_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "createdAt": entry.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "action": entry.action,
        "actor": entry.actor,
        "ip": entry.ip,
        "namespace": entry.namespace,
        "repo": {"type": entry.repo_type, "id": entry.repo_id} if entry.repo_id else None,
        "data": entry.data,
    }


def export_lines(session: Session, query: AuditQuery) -> Iterator[bytes]:
    """Every matching entry, oldest first, one JSON object per line, read in batches."""
    after = 0
    while True:
        stmt = query.select().where(AuditEntry.id > after).order_by(AuditEntry.id)
        batch = list(session.scalars(stmt.limit(EXPORT_BATCH)))
        if not batch:
            return
        yield b"".join(orjson.dumps(as_json(entry)) + b"\n" for entry in batch)
        after = batch[-1].id
