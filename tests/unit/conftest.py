"""Builders shared by the unit tests: a migrated SQLite database and a repo store in the test's
temp dir (real files, real git, no server), and the data builders of builders.py on them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import Builder, open_database, open_store
from sqlalchemy.orm import Session

from hugbox.db import Database
from hugbox.repos.store import RepoStore
from support import cheap_password_hashing
from testdb import Template


@pytest.fixture(scope="session", autouse=True)
def cheap_passwords() -> Iterator[None]:
    with cheap_password_hashing():
        yield


@pytest.fixture
def database(tmp_path: Path, migrated_template: Template) -> Iterator[Database]:
    with open_database(tmp_path, migrated_template) as db:
        yield db


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


@pytest.fixture
def alice_model(database: Database, store: RepoStore) -> str:
    """alice/m, a model repo of alice's with its initial commit, committed; returns its id."""
    with database.session() as session:
        build = Builder(session, store)
        build.repo(build.user("alice"), "m")
    return "alice/m"
