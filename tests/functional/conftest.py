"""The whole app in process (Starlette's TestClient), on a fresh data dir with one user."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hugbox.app import create_app
from hugbox.auth import service as auth
from hugbox.auth.models import TokenRole
from hugbox.db import Database, migrate
from hugbox.settings import Settings
from support import cheap_password_hashing


@pytest.fixture(scope="session", autouse=True)
def cheap_passwords() -> Iterator[None]:
    with cheap_password_hashing():
        yield


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


@pytest.fixture
def token(settings: Settings, migrated_template: Path) -> str:
    shutil.copyfile(migrated_template, settings.data_dir / "hugbox.db")
    migrate(settings.sqlalchemy_url)  # a no-op unless the settings name another database
    database = Database(settings.sqlalchemy_url)
    with database.session() as session:
        auth.create_user(session, name="alice", password="pw")
        plain = auth.create_token(session, user="alice", name="t", role=TokenRole.WRITE)
    database.engine.dispose()
    return plain


@pytest.fixture
def client(settings: Settings, token: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
