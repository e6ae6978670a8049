"""`hugbox serve`: run the hub with uvicorn."""

from __future__ import annotations

import logging

import typer
import uvicorn

from hugbox.app import create_app
from hugbox.cli.context import DataDirOption, operator
from hugbox.requestid import RequestIdFilter


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
    data_dir: DataDirOption = None,
) -> None:
    """Start the hub (migrating the database first)."""
    op = operator(data_dir)
    _configure_logging(log_level)
    app = create_app(op.settings)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
