"""Builders shared by the unit tests: a migrated SQLite database and a repo store in the test's
temp dir (real files, real git, no server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hugbox.db import Database, migrate
from hugbox.repos.store import RepoStore
from hugbox.storage.blobs import LocalBlobStore


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    migrate(url)
    db = Database(url)
    yield db
    db.engine.dispose()


@pytest.fixture
def store(tmp_path: Path) -> RepoStore:
    blobs = LocalBlobStore(tmp_path / "lfs")
    return RepoStore(repos_dir=tmp_path / "repos", blobs=blobs, tmp_dir=tmp_path / "tmp")
