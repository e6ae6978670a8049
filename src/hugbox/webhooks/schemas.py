"""HF's JSON shapes for webhooks (what huggingface_hub's `WebhookInfo` is read from)."""

from __future__ import annotations

from typing import Literal

from hugbox.wire import WireModel

Domain = Literal["repo", "discussion"]


class WebhookWatchedItem(WireModel):
    type: str
    name: str


class WebhookInfo(WireModel):
    """HF never returns the secret, only whether there is one (`hasSecret`)."""

    id: str
    url: str
    watched: list[WebhookWatchedItem]
    domains: list[Domain]
    disabled: bool
    hasSecret: bool
    createdAt: str
    lastTriggerAt: str | None = None


class WebhookAnswer(WireModel):
    webhook: WebhookInfo


class ReplayAnswer(WireModel):
    """A replay is queued, as any delivery; its outcome shows in the webhook's log."""

    status: str
    deliveryId: str
