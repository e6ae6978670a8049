"""`hugbox migrate`: bring the metadata database's schema to the newest migration."""

from __future__ import annotations

from hugbox.cli.context import DataDirOption, err, load_settings
from hugbox.db import migrate


def migrate_command(data_dir: DataDirOption = None) -> None:
    """Migrate the database (SQLite in the data dir, or HUGBOX_DATABASE_URL); `hugbox serve` does
    it too at start. Safe to run beside replicas that start: they migrate one at a time."""
    settings = load_settings(data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.sqlalchemy_url)
    err.print("The database schema is up to date.")
