"""The webhook tables: a user's webhooks, what each watches, and the log of its deliveries."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hugbox.db import Base, UTCDateTime, utcnow


def new_id() -> str:
    """HF's ids are 24 lowercase hex digits (Mongo ObjectIds); clients lower-case them."""
    return secrets.token_hex(12)


class Webhook(Base):
    """A user's webhook. The secret is kept (it is sent with each delivery) but never returned.
    `hub_url` is the base URL its owner reached the hub by: payload links use it when the
    settings name no public URL (deliveries run in the job worker, outside any request)."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str | None] = mapped_column(String(500), default=None)
    disabled: Mapped[bool] = mapped_column(default=False)
    hub_url: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_trigger_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    watched: Mapped[list[WebhookWatch]] = relationship(
        order_by="WebhookWatch.id", cascade="all, delete-orphan", lazy="selectin"
    )


class WebhookWatch(Base):
    """One watched item: a user or org (every repo in its namespace), or one repo. Names need not
    exist (HF accepts any); `name_lower` is what an event's namespace or repo id is matched on."""

    __tablename__ = "webhook_watches"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[str] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    name_lower: Mapped[str] = mapped_column(String(200), index=True)


class WebhookDelivery(Base):
    """One payload for one webhook: made once per (event, scope) however often the event is
    handed over (at-least-once delivery), and once more per replay."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", "scope"),
        Index("ix_webhook_deliveries_recent", "webhook_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(default=None)  # None for a replay
    scope: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # succeeded | failed
    replay_of: Mapped[str | None] = mapped_column(String(24), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    attempts: Mapped[list[WebhookAttempt]] = relationship(
        order_by="WebhookAttempt.number", cascade="all, delete-orphan", lazy="selectin"
    )


class WebhookAttempt(Base):
    """One POST of a delivery (or one refusal to send it), as its webhook's page shows it."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[int] = mapped_column(default=0)
    status_code: Mapped[int | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    response: Mapped[str] = mapped_column(Text, default="")  # the body's first bytes
