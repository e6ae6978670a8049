"""The JSON access line names the caller on every answer, refusals included (whose transaction
rolled back, expiring what it had loaded)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from webpages import api_create, new_token

from hugbox.app import create_app
from hugbox.settings import LogFormat, Settings


@pytest.fixture
def json_client(settings: Settings, token: str) -> Iterator[TestClient]:
    json_settings = settings.model_copy(update={"log_format": LogFormat.JSON})
    with TestClient(create_app(json_settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_refused_write_is_logged_with_its_caller(
    json_client: TestClient, settings: Settings, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    api_create(json_client, token, "m")
    bob = {"authorization": f"Bearer {new_token(settings.sqlalchemy_url, 'bob')}"}
    with caplog.at_level("INFO", logger="hugbox.access"):
        refused = json_client.request(
            "DELETE", "/api/repos/delete", json={"name": "m", "organization": "alice"}, headers=bob
        )
        assert refused.status_code == 403, refused.text
    (line,) = [r for r in caplog.records if r.name == "hugbox.access" and "/delete" in r.message]
    assert line.__dict__["user"] == "bob" and line.__dict__["status"] == 403
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
