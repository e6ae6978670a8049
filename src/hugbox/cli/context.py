"""What every operator command needs: settings, a migrated database, the stores, error output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from hugbox.context import Context, build_context
from hugbox.db import migrate
from hugbox.errors import HubError
from hugbox.repos import objects
from hugbox.settings import Settings

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default: $HUGBOX_DATA_DIR or ./data)."),
]
err = Console(stderr=True)


def load_settings(data_dir: Path | None) -> Settings:
    return Settings(data_dir=data_dir) if data_dir else Settings()


# An operator command works on the hub's shared context, like the app does.
Operator = Context


def operator(data_dir: Path | None) -> Operator:
    settings = load_settings(data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.sqlalchemy_url)
    op = build_context(settings)
    with op.database.session() as session:
        objects.index_unindexed(session, op.store)  # repos made before the large-file index
    return op


@contextmanager
def unit_of_work(op: Operator) -> Iterator[Session]:
    """A transaction whose domain errors end the command with their message, exit code 1."""
    try:
        with op.database.session() as session:
            yield session
    except HubError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        sys.exit(1)
