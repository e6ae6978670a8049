"""`hugbox serve`: run the hub with uvicorn."""

from __future__ import annotations

import os
from typing import Any

import typer
import uvicorn

from hugbox.app import create_app
from hugbox.cli.context import DataDirOption, operator


def logging_config(level: str) -> dict[str, Any]:
    """Every log line carries the request id; workers get the same config from uvicorn."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "hugbox",
        "filters": ["request_id"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "hugbox.requestid.RequestIdFilter"}},
        "formatters": {
            "hugbox": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"}
        },
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {"uvicorn.access": {"level": "WARNING"}},
    }


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes (about one per core)."),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
    data_dir: DataDirOption = None,
) -> None:
    """Start the hub (migrating the database first)."""
    op = operator(data_dir)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": logging_config(log_level),
        "access_log": False,
    }
    if workers == 1:
        uvicorn.run(create_app(op.settings), **options)
        return
    # Worker processes build their own app from the environment, so the data dir goes there.
    os.environ["HUGBOX_DATA_DIR"] = str(op.settings.data_dir.resolve())
    uvicorn.run("hugbox.app:create_app_from_env", factory=True, workers=workers, **options)
