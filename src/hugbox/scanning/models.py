"""One verdict per blob, whichever repos hold it, and the repos whose owners accept the risk."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hugbox.db import Base, UTCDateTime, utcnow

SCAN_JOB = "scanning.scan"
SECRETS_JOB = "scanning.secrets"


class FileScan(Base):
    """The verdict on one file's bytes. `oid` is the sha256 of a large (LFS or Xet) file, or the
    git blob id of a small one: both name content, so the same bytes are scanned once."""

    __tablename__ = "file_scans"

    oid: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    pickle_imports: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    message: Mapped[str | None] = mapped_column(String(500), default=None)
    scanner: Mapped[str] = mapped_column(String(64))
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnsafeWeightsAllowed(Base):
    """A repo whose admins let the Inference API load weights the scan found unsafe."""

    __tablename__ = "unsafe_weights_allowed"

    repo_pk: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    allowed_by: Mapped[str] = mapped_column(String(96))
    allowed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SecretScan(Base):
    """The secrets found in one small text file's bytes (a git blob, named by its id), with
    the sha256 of each hub token among them so it can be revoked: never the secret itself."""

    __tablename__ = "secret_scans"

    oid: Mapped[str] = mapped_column(String(40), primary_key=True)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
