"""The migrations build exactly the schema the models describe, the same on SQLite and
PostgreSQL, and replicas that start together on PostgreSQL migrate one at a time."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from hugbox.db import Base, make_engine, migrate
from testdb import empty_postgresql


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    with empty_postgresql() as url:
        yield url


def test_migrations_match_the_models(url: str) -> None:
    migrate(url)
    migrate(url)  # idempotent
    engine = make_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == [], "add a migration: alembic revision --autogenerate"


def _schema(url: str) -> dict[str, Any]:
    """Tables, their columns (name, nullable), indexes (name, columns, unique) and unique keys,
    as read back (PostgreSQL lists a unique key's own index among indexes too)."""
    engine = make_engine(url)
    try:
        found = inspect(engine)
        return {
            table: {
                "columns": [(c["name"], c["nullable"]) for c in found.get_columns(table)],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in found.get_indexes(table)
                    if "duplicates_constraint" not in i
                ),
                "unique": sorted(
                    tuple(u["column_names"]) for u in found.get_unique_constraints(table)
                ),
            }
            for table in sorted(found.get_table_names())
        }
    finally:
        engine.dispose()


def test_sqlite_and_postgresql_get_the_same_schema(tmp_path: Path) -> None:
    sqlite = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(sqlite)
    with empty_postgresql() as postgresql:
        migrate(postgresql)
        assert _schema(postgresql) == _schema(sqlite)


def test_replicas_starting_together_migrate_one_at_a_time() -> None:
    """Without the migrations' lock, all but one fail on tables another just made."""
    with empty_postgresql() as url:
        script = f"from hugbox.db import migrate; migrate({url!r})"
        replicas = [
            subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
            for _ in range(4)
        ]
        errors = [replica.communicate(timeout=120)[1] for replica in replicas]
        assert [replica.returncode for replica in replicas] == [0] * 4, errors
        engine = make_engine(url)
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        engine.dispose()
        assert len(versions) == 1
