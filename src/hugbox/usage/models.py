"""Usage tables: downloads counted per day (and the marks that deduplicate them), requests per
caller and per repo per day, and what each repo's storage is made of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hugbox.db import Base, UTCDateTime, utcnow


class DownloadMark(Base):
    """One visitor (a user, or an IP when anonymous) seen downloading a repo in one 5-minute
    window: a second mark in the same window is no second download (HF's rule). Marks older
    than a day are dropped; the day's count keeps what they counted."""

    __tablename__ = "download_marks"

    repo_pk: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    visitor: Mapped[str] = mapped_column(String(80), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)  # epoch // 300


class DownloadDay(Base):
    """Downloads of a repo on one UTC day: `downloads` is the sum over the last 30 of them."""

    __tablename__ = "download_days"

    repo_pk: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class CallerRequestDay(Base):
    """Requests of one caller on one UTC day, every bucket together. A caller is `u:<user id>`,
    or `ip:<address>` for an anonymous one (the download visitors' form). Kept 30 days."""

    __tablename__ = "caller_request_days"

    caller: Mapped[str] = mapped_column(String(80), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)


class RepoRequestDay(Base):
    """Requests whose URL named a repo (its API, files, pages, git, inference) on one UTC day;
    an org's requests are those of its repos. Kept 30 days."""

    __tablename__ = "repo_request_days"

    repo_pk: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)


class RepoStorage(Base):
    """What a repo's `used_storage` is made of, measured after each change of its refs."""

    __tablename__ = "repo_storage"

    repo_pk: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    lfs_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    git_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # The largest files, [{"path", "size", "oid"}] biggest first (the settings page lists them).
    largest: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class StorageQuota:
    """Bytes an account may store in private and in public repos (None: unlimited)."""

    private: int | None
    public: int | None


@dataclass(frozen=True)
class StorageUse:
    """Bytes an account's repos hold, private and public apart."""

    private: int
    public: int
