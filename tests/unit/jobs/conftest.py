"""The jobs tests run on SQLite and on PostgreSQL: `database` is each in turn (PostgreSQL: a copy
of a migrated template per test, tests/pg.py), `postgresql` is PostgreSQL only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import open_database

import pg
from hugbox.db import Database

PREFIX = "jobs"  # the jobs tests' databases are jobs_*: easy to tell apart on a shared server


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    if not pg.reachable():
        pytest.skip(f"no PostgreSQL at {pg.SERVER_URL} (HUGBOX_TEST_POSTGRES_URL)")
    with pg.migrated_template(PREFIX) as name:
        yield name


@pytest.fixture
def postgresql(pg_template: str) -> Iterator[Database]:
    with pg.database_copy(pg_template, PREFIX) as url:
        database = Database(url)
        yield database
        database.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_template: Path
) -> Iterator[Database]:
    if request.param == "postgresql":
        yield request.getfixturevalue("postgresql")
        return
    database = open_database(tmp_path, migrated_template)
    yield database
    database.engine.dispose()
