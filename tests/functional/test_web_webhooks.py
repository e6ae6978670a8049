"""The webhook settings pages: create, edit, disable, delete, a delivery's log and its replay;
forms need their CSRF token, strangers are asked to log in, another user's webhook is a 404."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient
from webpages import api_commit, api_create, csrf, join, login, post_form

PAGE = "/settings/webhooks"


def create(client: TestClient, **fields: str) -> str:
    form = {"url": "https://hooks.example.invalid/x", "watched": "user:alice",
            "domain_repo": "1", "domain_discussion": "1", "secret": "s", **fields}  # fmt: skip
    response = post_form(client, PAGE, **form)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(PAGE + "/[0-9a-f]{24}", location)
    return location


def wait_for(client: TestClient, path: str, text: str, times: int = 1, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = client.get(path).text
        if page.count(text) >= times:
            return page
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never showed on {path}")


def test_a_webhook_made_on_its_page_logs_deliveries_and_replays_them(
    client: TestClient, token: str
) -> None:
    login(client, "alice", "pw")
    assert "No webhooks yet" in client.get(PAGE).text
    hook = create(client)
    assert "hooks.example.invalid" in client.get(PAGE).text
    api_create(client, token, "hooked")
    api_commit(client, token, "alice/hooked", {"a.txt": b"a"})
    # The repo's creation and the commit, each refused and logged with the reason.
    page = wait_for(client, hook, 'data-status="failed"', times=2)
    assert page.count("Cannot resolve") == 2
    replay = re.search(PAGE + r"/[0-9a-f]{24}/deliveries/[0-9a-f]{24}/replay", page)
    assert replay is not None
    assert post_form(client, replay[0]).status_code == 303
    wait_for(client, hook, "(replay)")


def test_edit_disable_and_delete(client: TestClient) -> None:
    login(client, "alice", "pw")
    hook = create(client)
    response = post_form(client, hook, url="https://other.example.invalid/y", watched="org:acme",
                         domain_repo="1")  # fmt: skip
    assert response.status_code == 303
    page = client.get(hook).text
    assert "other.example.invalid" in page and "org:acme" in page
    assert "checked> Discussions" not in page.replace("\n", "")
    assert post_form(client, hook + "/disable").status_code == 303
    assert "Disabled" in client.get(hook).text
    assert post_form(client, hook + "/enable").status_code == 303
    assert post_form(client, hook + "/delete").status_code == 303
    assert client.get(hook).status_code == 404


def test_refused_urls_and_bad_forms_are_400(client: TestClient) -> None:
    login(client, "alice", "pw")
    for url in ("http://127.0.0.1:9/", "http://169.254.169.254/", "javascript:alert(1)"):
        response = post_form(client, PAGE, url=url, watched="user:alice", domain_repo="1")
        assert response.status_code == 400, url
    assert post_form(client, PAGE, url="https://a.example.invalid/", watched="").status_code == 400
    bad = post_form(client, PAGE, url="https://a.example.invalid/", watched="planet:x")
    assert bad.status_code == 400


def test_strangers_others_and_forged_forms(client: TestClient) -> None:
    login(client, "alice", "pw")
    hook = create(client)
    form = {"url": "https://evil.example.invalid/", "watched": "user:alice"}
    assert client.post(hook, data=form, follow_redirects=False).status_code == 403  # no CSRF
    anonymous = TestClient(client.app)
    assert anonymous.get(PAGE).status_code == 401
    assert anonymous.get(hook).status_code == 401
    bob = TestClient(client.app)
    join(bob, "bob", "pw-bob-123")
    assert bob.get(hook).status_code == 404
    for action in ("", "/disable", "/delete"):
        data = {"csrf_token": csrf(bob, PAGE), **form}
        assert bob.post(hook + action, data=data, follow_redirects=False).status_code == 404
    assert bob.get(PAGE + "/nope").status_code == 404
    assert "hooks.example.invalid" in client.get(hook).text
