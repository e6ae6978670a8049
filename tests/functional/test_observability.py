"""/health, /ready, /metrics and traces of the whole app, in process (hugbox.observability)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import create_engine, text
from webpages import api_commit, api_create

from hugbox.app import create_app
from hugbox.db import Database
from hugbox.jobs import service as jobs
from hugbox.observability.tracing import trace_requests
from hugbox.settings import Settings
from support import free_port
from testdb import Template

REPO_ROUTE = "/api/{repo_type:repotype}/{namespace}/{name}"


@pytest.fixture
def settings(tmp_path: Path, migrated_template: Template) -> Iterator[Settings]:
    # No job worker: a job enqueued by a test stays waiting for the queue's metrics to show.
    url = migrated_template.copy(tmp_path)
    yield Settings(data_dir=tmp_path, database_url=url, metrics_public=True, job_workers=0)
    migrated_template.drop(url)


def sample(metrics: str, name: str, **labels: str) -> float | None:
    """The value of one series of a Prometheus text answer, None when it is absent."""
    for line in metrics.splitlines():
        series, _, value = line.rpartition(" ")
        if series.partition("{")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if all(found.get(key) == wanted for key, wanted in labels.items()):
            return float(value)
    return None


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "storage": "ok"}}


def test_ready_is_503_naming_missing_storage_while_health_stays_up(
    client: TestClient, settings: Settings
) -> None:
    shutil.rmtree(settings.blobs_dir)
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.headers["x-error-code"] == "NotReady"
    assert "storage: blobs directory" in response.headers["x-error-message"]
    assert "missing" in response.json()["error"]
    assert client.get("/health").status_code == 200


def test_ready_is_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/hub"
    app = create_app(Settings(data_dir=tmp_path, database_url=unreachable, job_workers=0))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/ready")
        assert client.get("/health").status_code == 200
    assert response.status_code == 503
    assert response.headers["x-error-code"] == "NotReady"
    assert response.json()["error"] == "Not ready: database: unreachable (OperationalError)"


def test_requests_are_counted_by_route_template_never_the_raw_path(
    client: TestClient, token: str
) -> None:
    auth = {"authorization": f"Bearer {token}"}
    for name in ("first-secret-name", "second-secret-name"):
        api_create(client, token, name)
        assert client.get(f"/api/models/alice/{name}", headers=auth).status_code == 200
    assert client.get("/api/models/alice/none-such", headers=auth).status_code == 404
    text = client.get("/metrics").text
    assert "secret-name" not in text
    ok = sample(text, "hugbox_http_requests_total", route=REPO_ROUTE, method="GET", status="200")
    assert ok == 2
    assert sample(text, "hugbox_http_requests_total", route=REPO_ROUTE, status="404") == 1
    count = sample(
        text, "hugbox_http_request_duration_seconds_count", route=REPO_ROUTE, method="GET"
    )
    assert count == 3
    assert sample(text, "hugbox_http_requests_total", route="<unmatched>", status="404") is None
    client.get("/no/such/route/here/at/all")
    assert sample(client.get("/metrics").text, "hugbox_http_requests_total", route="<unmatched>")


def test_downloaded_bytes_are_counted(client: TestClient, token: str) -> None:
    api_create(client, token, "files")
    api_commit(client, token, "alice/files", {"data.bin": b"x" * 1000})
    before = sample(client.get("/metrics").text, "hugbox_blob_sent_bytes_total")
    assert client.get("/alice/files/resolve/main/data.bin").content == b"x" * 1000
    after = sample(client.get("/metrics").text, "hugbox_blob_sent_bytes_total")
    assert before is not None and after == before + 1000


def test_queue_and_pool_are_read_at_scrape_time(client: TestClient, settings: Settings) -> None:
    database = Database(settings.sqlalchemy_url)
    with database.session() as session:
        jobs.enqueue(session, kind="test.nothing", key="k", payload={})
    database.engine.dispose()
    text = client.get("/metrics").text
    assert sample(text, "hugbox_jobs", status="waiting") == 1
    age = sample(text, "hugbox_jobs_oldest_waiting_seconds")
    assert age is not None and 0 <= age < 60
    size = sample(text, "hugbox_db_pool_size")
    assert size is not None and size > 0
    assert sample(text, "hugbox_db_pool_checked_out") is not None


def test_inference_metrics_share_the_hub_registry(client: TestClient) -> None:
    assert "hugbox_loaded_models 0.0" in client.get("/metrics").text


@pytest.fixture
def traced(settings: Settings, token: str) -> Iterator[tuple[TestClient, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    app = create_app(settings)
    assert trace_requests(app, SimpleSpanProcessor(exporter))
    with TestClient(app) as client:
        yield client, exporter


def test_traces_name_spans_by_route_template(
    traced: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, exporter = traced
    client.get("/api/models/alice/whatever")
    names = [span.name for span in exporter.get_finished_spans()]
    assert f"GET {REPO_ROUTE}" in names
    assert not any("whatever" in name for name in names)


def test_ready_is_503_while_the_schema_lags_behind_the_code(
    client: TestClient, settings: Settings
) -> None:
    engine = create_engine(settings.sqlalchemy_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    response = client.get("/ready")
    assert response.status_code == 503
    assert "schema at 0001," in response.json()["error"]
    assert "run `hugbox migrate`" in response.json()["error"]
    with engine.begin() as connection:  # a newer schema than this code knows: still ready
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_next_release'"))
    assert client.get("/ready").status_code == 200
    engine.dispose()
