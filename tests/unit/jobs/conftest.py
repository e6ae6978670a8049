"""The jobs tests run on SQLite and on PostgreSQL: `database` is each in turn (PostgreSQL: a copy
of a migrated template per test, tests/testdb.py), `postgresql` is PostgreSQL only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import open_database

from hugbox.db import Database
from testdb import Template, migrated_postgresql


@pytest.fixture
def postgresql() -> Iterator[Database]:
    with migrated_postgresql() as url:
        database = Database(url)
        yield database
        database.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_template: Template
) -> Iterator[Database]:
    if request.param == "postgresql":
        yield request.getfixturevalue("postgresql")
        return
    with open_database(tmp_path, migrated_template) as database:
        yield database
