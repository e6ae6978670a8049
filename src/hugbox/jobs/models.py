"""The job table: one row per piece of background work, its state and its retries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from hugbox.db import Base, UTCDateTime, str_enum, utcnow


class JobStatus(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


RUNNING_ONLY = text("status = 'running'")


class Job(Base):
    """`kind` names the handler; `key` what it works on. One waiting job per (kind, key): a
    second enqueue while one waits only refreshes its payload. One running job per (kind, key):
    the database itself refuses a second (`ix_jobs_running_key`), so two workers that each claim
    one of two waiting jobs of a key at the same instant cannot both win; the index also answers
    the claim's "is this key busy?" without scanning the finished jobs."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_ready", "status", "run_after"),
        Index("ix_jobs_kind_key", "kind", "key"),
        Index(
            "ix_jobs_running_key",
            "kind",
            "key",
            unique=True,
            sqlite_where=RUNNING_ONLY,
            postgresql_where=RUNNING_ONLY,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus), default=JobStatus.WAITING)
    attempts: Mapped[int] = mapped_column(default=0)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    worker: Mapped[str | None] = mapped_column(String(100), default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
