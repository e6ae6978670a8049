"""PostgreSQL for tests: a database migrated once per test process, copied for each test.

`CREATE DATABASE x TEMPLATE tpl` takes ~20 ms here, against ~0.4 s to migrate a fresh one
(spec/scale-out.md §2.2). Names carry the pytest-xdist worker, the pid and a random part, so
parallel workers and runs never meet; a copy is dropped `WITH (FORCE)`, which ends the
connections a test left open. The server is `HUGBOX_TEST_POSTGRES_URL` (a SQLAlchemy URL of its
maintenance database), by default the local one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from hugbox.db import migrate

SERVER_URL = os.environ.get(
    "HUGBOX_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def unique_name(prefix: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{prefix}_{worker}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def url_of(name: str) -> str:
    return make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)


@contextmanager
def _admin() -> Iterator[Engine]:
    # CREATE and DROP DATABASE cannot run in a transaction; NullPool leaves nothing open after.
    engine = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def reachable() -> bool:
    try:
        with _admin() as engine, engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


def create_database(name: str, *, template: str | None = None) -> str:
    """A new database (a copy of `template` when given); returns its URL."""
    copy = f" TEMPLATE {template}" if template else ""
    with _admin() as engine, engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}{copy}"))
    return url_of(name)


def drop_database(name: str) -> None:
    with _admin() as engine, engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@contextmanager
def migrated_template(prefix: str) -> Iterator[str]:
    """A database at the newest migration, for `database_copy`; yields its name."""
    name = unique_name(f"{prefix}_tpl")
    migrate(create_database(name))
    try:
        yield name
    finally:
        drop_database(name)


@contextmanager
def database_copy(template: str, prefix: str) -> Iterator[str]:
    """A fresh copy of `template`, dropped afterwards; yields its URL."""
    name = unique_name(prefix)
    url = create_database(name, template=template)
    try:
        yield url
    finally:
        drop_database(name)
