"""Tables of the Xet domain: verified xorbs, files as term lists, which repo reads which file."""

from __future__ import annotations

import struct
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hugbox.db import Base, UTCDateTime, utcnow

# Per chunk of a stored xorb: its hash, the offset past it in the stored bytes, and the
# cumulative uncompressed length up to its end.
CHUNK_ROW = struct.Struct("<32sII")


class Xorb(Base):
    """A verified xorb; its bytes are in the xorb store under its hash."""

    __tablename__ = "xet_xorbs"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    stored_size: Mapped[int] = mapped_column(BigInteger)
    unpacked_size: Mapped[int] = mapped_column(BigInteger)
    chunk_count: Mapped[int]
    chunks: Mapped[bytes] = mapped_column(LargeBinary)  # CHUNK_ROW per chunk
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Last upload, re-upload or shard reference: GC keeps anything a client may still cache.
    touched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def chunk_rows(self) -> list[tuple[bytes, int, int]]:
        return list(CHUNK_ROW.iter_unpack(self.chunks))


class XetFile(Base):
    """A file the server reconstructed and whose sha256 it checked, as (xorb, chunk range) terms."""

    __tablename__ = "xet_files"
    __table_args__ = (Index("ix_xet_files_sha256", "sha256"),)

    file_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    terms: Mapped[list[Any]] = mapped_column(JSON)  # [[xorb hash, start, end, unpacked], ...]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class XetFileRepo(Base):
    """Repo `repo_pk` may read `file_hash` through the CAS (it was uploaded for that repo)."""

    __tablename__ = "xet_file_repos"

    repo_pk: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    file_hash: Mapped[str] = mapped_column(
        ForeignKey("xet_files.file_hash", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class XetDedup(Base):
    """A dedup-eligible chunk (first of a file, or hash ≡ 0 mod 1024) per dedup domain: the
    owner of the repo it was uploaded to. Probes are answered only within the caller's domain."""

    __tablename__ = "xet_dedup"

    chunk_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    domain: Mapped[int] = mapped_column(primary_key=True)
    xorb_hash: Mapped[str] = mapped_column(
        String(64), ForeignKey("xet_xorbs.hash", ondelete="CASCADE")
    )
    # The file this chunk starts, if it is a first chunk: its other xorbs are advertised too.
    file_hash: Mapped[str | None] = mapped_column(String(64), default=None)
