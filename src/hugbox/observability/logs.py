"""Log formats of `hugbox serve`: text (one readable line) or JSON (one object per line).

Every line carries the request id (hugbox.requestid.RequestIdFilter); access lines also carry
the user, repo, route, method, status and duration (hugbox.observability.access).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

from hugbox.settings import LogFormat

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
ACCESS_FIELDS = ("user", "repo", "route", "method", "status", "duration_ms")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id, and
    the access fields on access lines; `exception` holds a traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if getattr(record, "access", False):
            line.update((field, getattr(record, field, None)) for field in ACCESS_FIELDS)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def logging_config(level: str, log_format: LogFormat = LogFormat.TEXT) -> dict[str, Any]:
    """Every log line carries the request id; workers get the same config from uvicorn."""
    formatter: dict[str, Any] = {"format": TEXT_FORMAT}
    if log_format is LogFormat.JSON:
        formatter = {"()": "hugbox.observability.logs.JsonFormatter"}
    handler = {"class": "logging.StreamHandler", "formatter": "hugbox", "filters": ["request_id"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "hugbox.requestid.RequestIdFilter"}},
        "formatters": {"hugbox": formatter},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {"uvicorn.access": {"level": "WARNING"}},
    }
