"""The database plumbing: durable SQLite commits, lost races as 409s, `Work` reads and the pool."""

import sqlite3
from pathlib import Path

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool, QueuePool

from hugbox import db
from hugbox.auth.models import Account, AccountKind
from hugbox.context import build_context
from hugbox.db import Database, migrate
from hugbox.errors import Conflict
from hugbox.settings import Settings
from support import run_cli
from testdb import data_dir_env, empty_postgresql


@pytest.fixture
def database(tmp_path: Path) -> Database:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    migrate(url)
    return Database(url)


def test_sqlite_commits_survive_power_loss(database: Database) -> None:
    with database.session() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        # 2 is FULL: the WAL is synced at every commit (NORMAL, 1, may lose the last ones).
        assert session.execute(text("PRAGMA synchronous")).scalar() == 2


def _user(name: str) -> Account:
    return Account(name=name, name_lower=name.lower(), kind=AccountKind.USER, fullname=name)


def test_a_key_taken_meanwhile_is_a_conflict(database: Database) -> None:
    with database.session() as session:
        session.add(_user("Alice"))
    with pytest.raises(Conflict), database.session() as session:
        session.add(_user("alice"))  # inserted at commit: the unique name_lower refuses it
    with database.session() as session:
        assert session.execute(text("SELECT count(*) FROM accounts")).scalar() == 1


def test_other_database_errors_are_not_conflicts(database: Database) -> None:
    with pytest.raises(Exception, match="no such table") as error, database.session() as session:
        session.execute(text("SELECT * FROM no_such_table"))
    assert not isinstance(error.value, Conflict)


def test_a_session_that_only_read_sqlite_ends_without_io(database: Database) -> None:
    session = database.open_session()
    assert database.ends_without_io(session)  # nothing began
    session.execute(text("SELECT count(*) FROM accounts"))
    assert database.ends_without_io(session)  # pysqlite opened no transaction for a read
    session.add(_user("alice"))
    assert not database.ends_without_io(session)  # an insert waits for the commit
    database.close_session(session, commit=True)
    session = database.open_session()
    session.execute(text("UPDATE accounts SET fullname = 'A'"))
    assert not database.ends_without_io(session)  # a transaction is open: COMMIT writes
    database.close_session(session, commit=False)
    with database.session() as session:
        assert session.execute(text("SELECT fullname FROM accounts")).scalar() == "alice"


def _count(database: Database) -> int:
    with database.session() as session:
        return int(session.execute(text("SELECT count(*) FROM accounts")).scalar_one())


def test_a_work_reads_outside_any_transaction(database: Database) -> None:
    with database.session() as session:
        session.add(_user("alice"))
    with database.work() as work:
        assert work.connection.execute(text("SELECT count(*) FROM accounts")).scalar() == 1
        assert work.session.scalar(select(Account.name)) == "alice"
        driver = work.connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection) and not driver.in_transaction


def test_a_postgresql_work_sends_its_reads_alone() -> None:
    """No BEGIN before a Work's reads and no COMMIT after: one round trip per statement."""
    with empty_postgresql() as url:
        migrate(url)
        database = Database(url)
        try:
            with database.work() as work:
                work.connection.execute(text("SELECT count(*) FROM accounts"))
                work.session.scalar(select(Account.name))
                driver = work.connection.connection.driver_connection
                assert driver.info.transaction_status == TransactionStatus.IDLE
            with database.session() as session:  # sessions are transactions as before
                session.execute(text("SELECT count(*) FROM accounts"))
                driver = session.connection().connection.driver_connection
                assert driver.info.transaction_status == TransactionStatus.INTRANS
        finally:
            database.close()


def test_a_pooled_connection_the_server_closed_while_idle_is_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with empty_postgresql() as url:
        migrate(url)
        database = Database(url, pool_size=1, max_overflow=0)
        try:
            with database.work() as work:
                pid = work.connection.execute(text("SELECT pg_backend_pid()")).scalar()
            admin = create_engine(url, poolclass=NullPool)  # what a restart or a proxy does
            with admin.connect() as connection:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.dispose()
            monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # as if it had been idle for long
            with database.work() as work:
                assert work.connection.execute(text("SELECT pg_backend_pid()")).scalar() != pid
        finally:
            database.close()


def test_postgresql_pools_are_sized_by_the_settings(tmp_path: Path) -> None:
    with empty_postgresql() as url:
        settings = Settings(
            data_dir=tmp_path, database_url=url, database_pool_size=3, database_pool_overflow=2
        )
        context = build_context(settings)
        try:
            pool = context.database.engine.pool
            assert isinstance(pool, QueuePool)
            assert (pool.size(), pool._max_overflow) == (3, 2)
        finally:
            context.close()


def test_hugbox_migrate_brings_the_schema_up_to_date(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stderr
    url = data_dir_env(tmp_path).get("HUGBOX_DATABASE_URL", f"sqlite:///{tmp_path / 'hugbox.db'}")
    database = Database(url)
    try:
        with database.session() as session:
            assert session.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        database.close()


def test_a_connection_in_use_when_the_database_closes_is_closed_as_it_comes_back() -> None:
    """A job thread that outlives the server's stop gives its connection back after `close`: to
    a disposed pool, where the GC would find it open (psycopg warns, and the server keeps a
    backend), unless it is closed on its way back."""
    with empty_postgresql() as url:
        migrate(url)
        database = Database(url)
        with database.session() as session:
            driver = session.connection().connection.driver_connection
            database.close()
        assert driver.closed
        with database.session() as session:  # a late user still gets a working connection
            late = session.connection().connection.driver_connection
            assert session.execute(text("SELECT 1")).scalar() == 1
        assert late.closed
