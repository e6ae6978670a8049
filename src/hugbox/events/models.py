"""The event table (one row per repo change, in commit order) and each subscriber's position."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from hugbox.db import Base, UTCDateTime, utcnow


class RepoEvent(Base):
    """`kind` says what changed (`repo.ref_moved`, ...); `data` the details. The repo is named
    by key and id both: an event outlives a deleted repo."""

    __tablename__ = "repo_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    repo_pk: Mapped[int] = mapped_column(index=True)
    repo_type: Mapped[str] = mapped_column(String(16))
    repo_id: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventCursor(Base):
    """The last event a subscriber has handled; it resumes after it."""

    __tablename__ = "event_cursors"

    subscriber: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(default=0)
