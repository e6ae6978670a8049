"""The whole app in process (Starlette's TestClient), on a fresh data dir with one user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from webpages import new_token

from hugbox.app import create_app
from hugbox.settings import Settings
from support import cheap_password_hashing
from testdb import Template


@pytest.fixture(scope="session", autouse=True)
def cheap_passwords() -> Iterator[None]:
    with cheap_password_hashing():
        yield


@pytest.fixture
def settings(tmp_path: Path, migrated_template: Template) -> Iterator[Settings]:
    """The app's settings, on a migrated database of the test's own."""
    url = migrated_template.copy(tmp_path)
    yield Settings(data_dir=tmp_path, database_url=url)
    migrated_template.drop(url)


@pytest.fixture
def token(settings: Settings) -> str:
    return new_token(settings.sqlalchemy_url, "alice")


@pytest.fixture
def client(settings: Settings, token: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
