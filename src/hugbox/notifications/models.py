"""The notification table: one row per note to one user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hugbox.db import Base, UTCDateTime, utcnow


class Notification(Base):
    """A note for `user_id`: `kind` says which part sent it (`access_request.decided`, ...),
    `text` what happened, `url` (a path of this hub) where to look."""

    __tablename__ = "notifications"
    # The header's badge counts a user's unread notes on every page.
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(String(500))
    url: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
