"""Tables of the community domain: the events of a discussion after its opening post.

The discussion itself (its number, title, status and opening post) is `repos.models.Discussion`:
the repos domain numbers it when a commit opens a pull request. A PR's commits are read from
git (`refs/pr/<num>`), so a push and an API commit show alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hugbox.auth.models import Account
from hugbox.db import Base, UTCDateTime, utcnow


class DiscussionEvent(Base):
    """A comment, status change or title change; `event_id` is HF's 24-hex id."""

    __tablename__ = "discussion_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    discussion_pk: Mapped[int] = mapped_column(
        ForeignKey("discussions.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(24), unique=True)
    type: Mapped[str] = mapped_column(String(16))  # comment | status-change | title-change
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    content: Mapped[str] = mapped_column(Text, default="")  # a comment's markdown
    edited: Mapped[bool] = mapped_column(default=False)
    hidden: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {status} or {from, to}

    author: Mapped[Account | None] = relationship(lazy="joined")
