"""Database plumbing: the engine, one session per unit of work, the declarative Base."""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    Enum,
    create_engine,
    event,
    func,
    select,
    text,
)  # fmt: skip
from sqlalchemy.exc import DisconnectionError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.types import TypeDecorator

from hugbox.errors import Conflict
from hugbox.loop import on_event_loop

log = logging.getLogger(__name__)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored naive-UTC (portable), returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.astimezone(UTC).replace(tzinfo=None) if value else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value else None


def str_enum(enum: type[StrEnum], length: int = 16) -> Enum:
    """A StrEnum column stored as its plain value (VARCHAR), portable across databases."""
    return Enum(
        enum, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while a writer commits; busy_timeout queues writers instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL syncs the WAL at every commit: NORMAL (WAL's usual pairing) may lose the last
    # acknowledged transactions on power loss, and with them commits git already holds.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """An engine for `url`. The pool sizes apply to PostgreSQL, where each connection is a server
    process that every replica's pools share (`max_connections`); a SQLite connection is a file
    handle, so the pool there only bounds the threads that use the database at once."""
    if url.startswith("sqlite"):
        return sqlite_engine(url, pool_size=20)
    engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow)
    event.listen(engine, "checkin", _note_idle)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


# A pooled connection idle this long is pinged before use: the server or a proxy may have closed
# it meanwhile. A busy one is not: SQLAlchemy's pre-ping would add a round trip to each request
# (a quarter of what `model_info` sends), and a connection that dies in use invalidates the pool.
PING_AFTER_IDLE_S = 10.0
_IDLE_SINCE = "hugbox.idle_since"


def _note_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    idle_since = record.info.get(_IDLE_SINCE)
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as exc:  # psycopg's errors: the pool replaces the connection and retries
        raise DisconnectionError(str(exc)) from exc


def is_postgresql(bind: Connection | Session) -> bool:
    connectable = bind.get_bind() if isinstance(bind, Session) else bind
    return connectable.dialect.name == "postgresql"


def lock_in_transaction(bind: Connection | Session, name: str) -> bool:
    """Wait for the lock called `name` and hold it until the transaction of `bind` ends (commit,
    rollback, or its connection's end when the process dies), on PostgreSQL: an advisory lock
    that every replica's transactions share, and one that PgBouncer's transaction pooling keeps.
    Returns False on SQLite, which has no such lock (its callers lock files instead)."""
    if not is_postgresql(bind):
        return False
    bind.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(name, 0))))
    return True


def sqlite_engine(url: str, **pool: int) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False}, **pool)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """The engine and its session factory; one per process, built from Settings."""

    def __init__(self, url: str, *, pool_size: int = 5, max_overflow: int = 10):
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._sessions, "after_begin", _note_connection)
        self._closed = False
        event.listen(self.engine, "checkin", self._close_if_closed)

    def close(self) -> None:
        """Close the pooled connections, and each connection in use as it comes back: a job
        thread that outlives the server's stop gives its connection back to a disposed pool,
        where the GC would find it open (psycopg warns, the server keeps a backend)."""
        self._closed = True
        self.engine.dispose()
        if "_loop_engine" in self.__dict__:
            self._loop_engine.dispose()

    def _close_if_closed(self, dbapi_connection: Any, record: Any) -> None:
        if self._closed and dbapi_connection is not None:
            record.close()  # the pool reconnects it should a late user check it out again

    @property
    def reads_on_loop(self) -> bool:
        """Whether an event loop may run a short read itself (`deps.run_read`): SQLite's are
        local file reads that WAL never makes wait; a server's (PostgreSQL) are network round
        trips, which must never stall the loop."""
        return self.engine.dialect.name == "sqlite"

    @cached_property
    def _loop_engine(self) -> Engine:
        """The connections of `Work` on an event loop: one, and more only while several loops
        read at once. They never wait for the pool: the loop would stall, and with it the
        requests that would give a pooled connection back."""
        return sqlite_engine(self.url, pool_size=1, max_overflow=-1)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends cleanly, rolled back otherwise. Losing
        a race to a concurrent transaction (a unique key, a lock) is a 409, never a crash."""
        with self.lost_race_is_conflict(), self._sessions() as session, session.begin():
            yield session

    def open_session(self) -> Session:
        """A session for `close_session`; no I/O until its first statement begins the
        transaction, so an event loop may open it."""
        return self._sessions()

    @staticmethod
    def ends_without_io(session: Session) -> bool:
        """Whether `close_session` would do no I/O, so that an event loop may call it: nothing
        waits to be written, and each connection the session used is a SQLite one that only
        read. (pysqlite opens a transaction before the first write only; committing or rolling
        back a connection with none is a no-op, and the pool takes it back in memory.)"""
        if session.new or session.dirty or session.deleted:
            return False
        used: list[Connection] = session.info.get(_CONNECTIONS, [])
        return all(_only_read_sqlite(connection) for connection in used)

    def close_session(self, session: Session, *, commit: bool) -> None:
        """End what `open_session` began: commit (or roll back) and close, as `session` does."""
        with self.lost_race_is_conflict(), session:
            if commit:
                session.commit()
            else:
                session.rollback()

    @contextmanager
    def work(self) -> Iterator[Work]:
        """One `Work` (reads): for blocking code, a thread-pool hop, or a short read on the event
        loop where the database allows it (`reads_on_loop`)."""
        engine = self._loop_engine if self.reads_on_loop and on_event_loop() else self.engine
        with self.lost_race_is_conflict(), engine.connect() as connection:
            # Each statement its own transaction: for reads at READ COMMITTED (PostgreSQL)
            # that sees what one transaction would (a snapshot per statement), without BEGIN
            # and COMMIT, two of the four round trips `model_info` sent. pysqlite began none
            # for reads anyway.
            connection.execution_options(isolation_level="AUTOCOMMIT")
            work = Work(connection)
            try:
                yield work
            finally:
                work.close()

    @staticmethod
    @contextmanager
    def lost_race_is_conflict() -> Iterator[None]:
        try:
            yield
        except (IntegrityError, OperationalError, StaleDataError) as exc:
            if not lost_race(exc):
                raise
            log.warning("transaction lost a race: %s", exc)
            raise Conflict("A concurrent request changed the same thing: try again") from exc


class Work:
    """Reads on one pooled connection, outside any transaction, for the most frequent read
    routes (repo info, file downloads): their lookups run as Core statements on `connection`,
    and opening and committing an ORM session costs several times what the connection does.
    `session`, on the same connection, is made only for what asks for one. Each statement
    commits on its own: write through `Database.session`, never here."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = Session(bind=self.connection, expire_on_commit=False)
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


_CONNECTIONS = "hugbox.connections"  # session.info: the connections its transactions used


def _note_connection(session: Session, _transaction: Any, connection: Connection) -> None:
    session.info.setdefault(_CONNECTIONS, []).append(connection)


def _only_read_sqlite(connection: Connection) -> bool:
    if connection.closed or connection.invalidated:
        return True  # already given back
    driver = connection.connection.driver_connection
    return isinstance(driver, sqlite3.Connection) and not driver.in_transaction


# PostgreSQL's serialization failure, deadlock and lock-timeout SQLSTATEs.
_PG_CONTENTION = {"40001", "40P01", "55P03"}


def lost_race(exc: IntegrityError | OperationalError | StaleDataError) -> bool:
    """Whether the database refused a statement only because of another transaction."""
    if isinstance(exc, IntegrityError | StaleDataError):
        # A key taken meanwhile; a row deleted meanwhile (foreign keys, or an update of it).
        return True
    code = getattr(exc.orig, "sqlstate", None)
    return code in _PG_CONTENTION or "database is locked" in str(exc.orig)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic logs its plugin setup and SQL dialect at INFO on every run: noise in front of a
    CLI whose logging is at INFO (`hugbox demo`). Its warnings and errors still show."""
    logger = logging.getLogger("alembic")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


@functools.cache
def schema_revisions() -> tuple[str, ...]:
    """This code's migrations, oldest first: the last one is the schema it needs."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return tuple(reversed([script.revision for script in scripts.walk_revisions()]))


def schema_revision(connection: Connection) -> str | None:
    """The migration a database was last brought to; None when it was never migrated."""
    try:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None


# Replicas that start together migrate one after another under this lock (migrations/env.py).
MIGRATIONS_LOCK = "hugbox:migrations"


def migrate(url: str) -> None:
    """Bring the database schema to the newest migration (idempotent, and safe to run from
    several processes at once on PostgreSQL: the later ones wait, then find nothing to do)."""
    with _quiet_alembic():
        from alembic import command  # its plugins log their setup on first import

        command.upgrade(alembic_config(url), "head")
