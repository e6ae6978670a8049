"""Space pages: the app, its stage and logs on the space's page; secrets, variables and sleep
time on its settings page, for its owners only."""

from __future__ import annotations

import html

from fastapi.testclient import TestClient
from webpages import api_create, join, login, post_form

from hugbox.db import Database
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.service import find_repo
from hugbox.settings import Settings
from hugbox.spaces import service
from hugbox.spaces.models import SpaceStage

PAGE = "/spaces/alice/app"
SETTINGS = f"{PAGE}/settings"


def _space(client: TestClient, token: str, sdk: str = "gradio") -> None:
    api_create(client, token, "app", type="space", sdk=sdk)


def _observe(client: TestClient, stage: SpaceStage, error: str | None = None) -> None:
    """What the supervisor would write (it does not run in process)."""
    database: Database = client.app.state.database  # type: ignore[attr-defined]
    with database.session() as session:
        repo = find_repo(session, RepoType.SPACE, "alice/app")
        assert isinstance(repo, Repo)
        runtime = service.runtime_of(session, repo)
        runtime.stage, runtime.error = stage, error


def _runtime(client: TestClient, token: str) -> dict[str, object]:
    response = client.get(f"/api{PAGE}/runtime", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_space_page_shows_the_app(client: TestClient, token: str, settings: Settings) -> None:
    _space(client, token)
    page = client.get(PAGE)
    assert page.status_code == 200
    host = service.space_host(settings, "http://testserver", "alice/app")
    assert f'<iframe class="space-app" src="{host}"' in page.text
    assert 'allow="clipboard-write; microphone; camera"' in page.text
    assert f'<a href="{host}" target="_blank" rel="noopener">Open in a new tab</a>' in page.text
    assert 'data-stage="NO_APP_FILE"' in page.text and 'class="stage idle"' in page.text
    assert 'aria-live="polite">No app file</span>' in page.text
    assert "/static/space.js" in page.text and 'data-action="restart"' not in page.text
    assert '<details class="space-logs">' in page.text  # closed: nothing failed
    login(client, "alice", "pw")
    owned = client.get(PAGE).text
    assert 'data-action="restart"' in owned and 'data-action="pause"' in owned
    assert "space-app" not in client.get("/alice/app").text  # a model of the same name: no app
    assert client.get("/static/space.js").status_code == 200


def test_space_page_shows_the_stage_and_a_build_error(client: TestClient, token: str) -> None:
    _space(client, token)
    _observe(client, SpaceStage.BUILD_ERROR, "pip failed: <no such package>")
    page = client.get(PAGE).text
    assert 'class="stage error"' in page and ">Build error</span>" in page
    assert html.escape("pip failed: <no such package>") in page
    assert '<div class="flash error space-error">' in page  # not hidden
    assert '<details class="space-logs" open>' in page
    assert 'id="space-tab-build" aria-selected="true"' in page
    _observe(client, SpaceStage.BUILDING)
    assert 'class="stage busy"' in client.get(PAGE).text
    _observe(client, SpaceStage.RUNNING)
    running = client.get(PAGE).text
    assert 'class="stage ok"' in running and ">Running</span>" in running
    assert '<div class="flash error space-error" hidden>' in running
    assert 'id="space-tab-run" aria-selected="true"' in running
    assert _runtime(client, token)["stage"] == "RUNNING"  # the page and the API agree


def test_static_spaces_have_no_restart_or_sleep_time(client: TestClient, token: str) -> None:
    _space(client, token, sdk="static")
    login(client, "alice", "pw")
    assert "space-app" in client.get(PAGE).text
    assert 'data-action="restart"' not in client.get(PAGE).text
    settings_page = client.get(SETTINGS).text
    assert "Sleep time" not in settings_page and "Secrets" in settings_page


def test_secrets_are_listed_without_their_values(client: TestClient, token: str) -> None:
    _space(client, token)
    login(client, "alice", "pw")
    added = post_form(client, f"{SETTINGS}/secrets", key="HF_TOKEN", value="s3cr3t-value",
                      description="for the hub")  # fmt: skip
    assert added.status_code == 303 and added.headers["location"] == f"{SETTINGS}#secrets"
    page = client.get(SETTINGS).text
    assert "<code>HF_TOKEN</code>" in page and "for the hub" in page
    assert "s3cr3t-value" not in page
    post_form(client, f"{SETTINGS}/secrets", key="HF_TOKEN", value="rotated\r\nline")
    page = client.get(SETTINGS).text
    assert "rotated" not in page and "for the hub" in page  # kept when none is given
    deleted = post_form(client, f"{SETTINGS}/secrets/delete", key="HF_TOKEN")
    assert deleted.status_code == 303
    assert "HF_TOKEN" not in client.get(SETTINGS).text
    missing = post_form(client, f"{SETTINGS}/secrets/delete", key="HF_TOKEN")
    assert missing.status_code == 404 and "No secret named" in missing.text


def test_variables_are_listed_with_their_values(client: TestClient, token: str) -> None:
    _space(client, token)
    login(client, "alice", "pw")
    added = post_form(client, f"{SETTINGS}/variables", key="MODEL_ID", value="gpt2")
    assert added.headers["location"] == f"{SETTINGS}#variables"
    assert "<code>gpt2</code>" in client.get(SETTINGS).text
    listed = client.get(f"/api{PAGE}/variables").json()
    assert listed["MODEL_ID"]["value"] == "gpt2"
    post_form(client, f"{SETTINGS}/variables/delete", key="MODEL_ID")
    assert client.get(f"/api{PAGE}/variables").json() == {}
    bad = post_form(client, f"{SETTINGS}/variables", key="1ABC", value="x")
    assert bad.status_code == 400 and "Invalid key" in bad.text and "<html" in bad.text
    reserved = post_form(client, f"{SETTINGS}/variables", key="SPACE_ID", value="x")
    assert reserved.status_code == 400 and "set by the hub" in reserved.text


def test_sleep_time_is_set_from_the_select(client: TestClient, token: str) -> None:
    _space(client, token)
    login(client, "alice", "pw")
    assert '<option value="172800" selected>48 hours</option>' in client.get(SETTINGS).text
    saved = post_form(client, f"{SETTINGS}/sleep-time", seconds="3600")
    assert saved.status_code == 303 and saved.headers["location"] == f"{SETTINGS}#sleep-time"
    assert _runtime(client, token)["gcTimeout"] == 3600
    assert '<option value="3600" selected>1 hour</option>' in client.get(SETTINGS).text
    post_form(client, f"{SETTINGS}/sleep-time", seconds="-1")
    assert _runtime(client, token)["gcTimeout"] is None
    assert post_form(client, f"{SETTINGS}/sleep-time", seconds="soon").status_code == 400


def test_forms_need_the_csrf_token(client: TestClient, token: str) -> None:
    _space(client, token)
    login(client, "alice", "pw")
    for path, fields in ((f"{SETTINGS}/secrets", {"key": "A", "value": "b"}),
                         (f"{SETTINGS}/variables", {"key": "A", "value": "b"}),
                         (f"{SETTINGS}/sleep-time", {"seconds": "300"})):  # fmt: skip
        refused = client.post(path, data=fields, follow_redirects=False)
        assert refused.status_code == 403, path
        forged = client.post(path, data={**fields, "csrf_token": "x"}, follow_redirects=False)
        assert forged.status_code == 403, path
    assert "<code>A</code>" not in client.get(SETTINGS).text
    assert _runtime(client, token)["gcTimeout"] == 48 * 3600


def test_only_owners_get_the_space_settings(client: TestClient, token: str) -> None:
    _space(client, token)
    other = TestClient(client.app)
    join(other, "oscar", "oscar-password")
    assert other.get(SETTINGS).status_code == 403
    refused = post_form(other, f"{SETTINGS}/secrets", key="STOLEN", value="x")
    assert refused.status_code == 403
    assert post_form(other, f"{SETTINGS}/sleep-time", seconds="300").status_code == 403
    assert "data-action" not in other.get(PAGE).text
    api_create(client, token, "model")
    login(client, "alice", "pw")
    assert "Sleep time" not in client.get("/alice/model/settings").text
    not_a_space = post_form(client, "/spaces/alice/model/settings/secrets", key="A", value="b")
    assert not_a_space.status_code == 404
