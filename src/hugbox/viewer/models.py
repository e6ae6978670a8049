"""Tables of the dataset viewer, and the export manifest its endpoints answer from."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hugbox.db import Base, UTCDateTime, str_enum, utcnow

CONVERT_JOB = "viewer.convert"
INDEX_JOB = "viewer.index"
PARQUET_REF = "refs/convert/parquet"


class ExportStatus(StrEnum):
    OK = "ok"
    ERROR = "error"


class ViewerExport(Base):
    """The last conversion of a dataset: at which commit, how it went, and its manifest (configs,
    splits, parquet files, features, sizes, statistics) in `content`."""

    __tablename__ = "viewer_exports"

    repo_pk: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    revision: Mapped[str] = mapped_column(String(40))
    status: Mapped[ExportStatus] = mapped_column(str_enum(ExportStatus))
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def job_key(repo_pk: int) -> str:
    return f"dataset:{repo_pk}"
