"""`hugbox serve`: run the hub with uvicorn."""

from __future__ import annotations

import json
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
    memory_budget: str | None = typer.Option(
        None,
        help="Memory loaded models may use together, e.g. 8GiB [HUGBOX_INFERENCE_MEMORY_BUDGET].",
    ),
    pin: list[str] = typer.Option(
        [],
        help="A model to load at start and never evict; repeat for more [HUGBOX_INFERENCE_PINNED].",
    ),
    inference_threads: int | None = typer.Option(
        None, min=1, help="Torch threads per model worker [HUGBOX_INFERENCE_THREADS]."
    ),
    data_dir: DataDirOption = None,
) -> None:
    """Start the hub (migrating the database first)."""
    _export_inference_options(memory_budget, pin, inference_threads, workers)
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


def _export_inference_options(
    memory_budget: str | None, pin: list[str], threads: int | None, workers: int
) -> None:
    """Options become the settings' environment variables, which worker processes inherit.
    Server processes share the cores: each keeps at most its share of them busy."""
    if memory_budget is not None:
        os.environ["HUGBOX_INFERENCE_MEMORY_BUDGET"] = memory_budget
    if pin:
        os.environ["HUGBOX_INFERENCE_PINNED"] = json.dumps(pin)
    if threads is not None:
        os.environ["HUGBOX_INFERENCE_THREADS"] = str(threads)
    if workers > 1 and "HUGBOX_INFERENCE_CORES" not in os.environ:
        os.environ["HUGBOX_INFERENCE_CORES"] = str(max(1, (os.cpu_count() or 1) // workers))
