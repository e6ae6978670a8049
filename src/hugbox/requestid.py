"""Request ids: one per request, on every log line and every response."""

from __future__ import annotations

import logging
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="-")


def current_request_id() -> str:
    return _request_id.get()


def new_request_id(incoming: str | None = None) -> str:
    # It is sent back as a header, where a control character would cost the whole answer.
    rid = f"Root={uuid.uuid4().hex}"
    if incoming and len(incoming) <= 128 and incoming.isascii() and incoming.isprintable():
        rid = incoming
    _request_id.set(rid)
    return rid


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every log record so the format string can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True
