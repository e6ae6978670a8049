"""The suites' databases: SQLite files by default, PostgreSQL ones when
HUGBOX_TEST_DATABASE=postgresql (`make test-pg`).

On PostgreSQL each process migrates one template database, and every test (or live hub's data
dir) gets a database of its own copied from it (`CREATE DATABASE … TEMPLATE`, ~20 ms), dropped
afterwards. Names carry the process id and a random part, so xdist workers and parallel runs
never meet.
"""

from __future__ import annotations

import atexit
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from hugbox.db import migrate

POSTGRESQL = os.environ.get("HUGBOX_TEST_DATABASE", "sqlite") == "postgresql"
# The server the PostgreSQL run uses (trust auth): a URL without a database name.
SERVER = os.environ.get("HUGBOX_TEST_POSTGRESQL", "postgresql+psycopg://postgres@127.0.0.1:5432")
_PREFIX = f"hbt_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def _admin(statement: str) -> None:
    engine = create_engine(f"{SERVER}/postgres", poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


_PG_TEMPLATE: str | None = None


def _postgresql_template() -> str:
    """This process's migrated PostgreSQL template database, made on first use."""
    global _PG_TEMPLATE
    if _PG_TEMPLATE is None:
        name = f"{_PREFIX}_tpl"
        _admin(f'CREATE DATABASE "{name}"')
        atexit.register(_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        migrate(f"{SERVER}/{name}")
        _PG_TEMPLATE = name
    return _PG_TEMPLATE


class Template:
    """A migrated database to copy: a SQLite file, or a PostgreSQL template database."""

    def __init__(self, directory: Path):
        self._made: list[str] = []
        if POSTGRESQL:  # `directory` is for SQLite's file
            self.name = _postgresql_template()
            atexit.register(self._drop_all)
        else:
            directory.mkdir(parents=True, exist_ok=True)
            self.path = directory / "hub.db"
            migrate(f"sqlite:///{self.path}")

    def copy(self, directory: Path) -> str:
        """The URL of a new database like the template: `directory/hugbox.db`, or a PostgreSQL
        database (dropped by `drop`, or at the end of the run)."""
        if not POSTGRESQL:
            shutil.copyfile(self.path, directory / "hugbox.db")
            return f"sqlite:///{directory / 'hugbox.db'}"
        name = f"{_PREFIX}_{uuid.uuid4().hex[:10]}"
        _admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
        self._made.append(name)
        return f"{SERVER}/{name}"

    def drop(self, url: str) -> None:
        """Drop a database `copy` made (its connections too); a SQLite file stays in its dir."""
        name = url.rsplit("/", 1)[-1]
        if POSTGRESQL and name in self._made:
            self._made.remove(name)
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _drop_all(self) -> None:
        for name in self._made:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_TEMPLATE: Template | None = None
_DATA_DIRS: dict[Path, str] = {}


def template(directory: Path) -> Template:
    """This process's template, made (in `directory`) on first use."""
    global _TEMPLATE
    if _TEMPLATE is None:
        _TEMPLATE = Template(directory)
    return _TEMPLATE


def data_dir_env(data_dir: Path) -> dict[str, str]:
    """What a hub or CLI process on `data_dir` needs in its environment to find its database:
    nothing on SQLite (the data dir holds it); on PostgreSQL, HUGBOX_DATABASE_URL of the data
    dir's own database, made on first use and dropped at the end of the run."""
    if not POSTGRESQL:
        return {}
    key = data_dir.resolve()
    if key not in _DATA_DIRS:
        _DATA_DIRS[key] = template(data_dir).copy(data_dir)
    return {"HUGBOX_DATABASE_URL": _DATA_DIRS[key]}


@contextmanager
def empty_postgresql() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the block. Outside a
    PostgreSQL run the test is skipped when no server answers; in one, it must answer."""
    name = f"{_PREFIX}_{uuid.uuid4().hex[:10]}"
    try:
        _admin(f'CREATE DATABASE "{name}"')
    except OperationalError:
        if POSTGRESQL:
            raise
        pytest.skip(f"no PostgreSQL server at {SERVER}")
    try:
        yield f"{SERVER}/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def migrated_postgresql() -> Iterator[str]:
    """The URL of a new PostgreSQL database at the newest migration (a copy of this process's
    template), dropped after the block: for tests that run on PostgreSQL whatever the run's
    database. Outside a PostgreSQL run the test is skipped when no server answers."""
    try:
        tpl = _postgresql_template()
    except OperationalError:
        if POSTGRESQL:
            raise
        pytest.skip(f"no PostgreSQL server at {SERVER}")
    name = f"{_PREFIX}_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{tpl}"')
    try:
        yield f"{SERVER}/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
