"""Post notes to users and read them back: any part calls `notify` in its own transaction."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hugbox.db import utcnow
from hugbox.notifications.models import Notification

PAGE_SIZE = 50
TEXT_LIMIT = 500


def notify(session: Session, user_pk: int, kind: str, text: str, url: str) -> Notification:
    """A note for user `user_pk`, committed with the caller's change (or not at all)."""
    note = Notification(user_id=user_pk, kind=kind[:64], text=_clip(text), url=url[:TEXT_LIMIT])
    session.add(note)
    return note


def list_notifications(
    session: Session, *, user_pk: int, limit: int = PAGE_SIZE
) -> list[Notification]:
    """The user's latest notes, newest first."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user_pk)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )


def count_unread(session: Session, *, user_pk: int) -> int:
    query = select(func.count()).where(
        Notification.user_id == user_pk, Notification.read_at.is_(None)
    )
    return session.scalar(query) or 0


def mark_all_read(session: Session, *, user_pk: int) -> None:
    session.execute(
        update(Notification)
        .where(Notification.user_id == user_pk, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"
