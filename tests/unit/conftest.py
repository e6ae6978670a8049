"""Builders shared by the unit tests: a migrated SQLite database and a repo store in the test's
temp dir (real files, real git, no server), and the data builders of builders.py on them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from builders import Builder, open_database, open_store
from sqlalchemy.orm import Session

from hugbox.db import Database, migrate
from hugbox.repos.store import RepoStore


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2 at its lowest cost: the real hasher, at 0.1 ms a user instead of 150 ms (the
    cost is a setting of the hasher, not something the tests check)."""
    with pytest.MonkeyPatch.context() as patch:
        cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        patch.setattr("hugbox.auth.service._hasher", cheap)
        yield


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database migrated once per run: each test copies the file (~1 ms, not ~150 ms)."""
    path = tmp_path_factory.mktemp("template") / "hub.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def database(tmp_path: Path, migrated_template: Path) -> Iterator[Database]:
    db = open_database(tmp_path, migrated_template)
    yield db
    db.engine.dispose()


@pytest.fixture
def store(tmp_path: Path) -> RepoStore:
    return open_store(tmp_path)


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with database.session() as session:
        yield session


@pytest.fixture
def build(session: Session, store: RepoStore) -> Builder:
    return Builder(session, store)
