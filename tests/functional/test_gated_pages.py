"""The gated pages in process: the admins' review page and its forms, the requester's
notifications; who may see and post them, and what bad forms get."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from webpages import api_commit, api_create, csrf, join, login, post_form

REPO = "/alice/gated-model"


@pytest.fixture
def gated(client: TestClient, token: str) -> TestClient:
    """alice's manual gated model, alice logged in; gina has asked for access."""
    api_create(client, token, "gated-model")
    card = b"---\nextra_gated_fields:\n  Company: text\n---\n# Gated\n"
    api_commit(client, token, "alice/gated-model", {"README.md": card, "w.txt": b"w\n"})
    login(client, "alice", "pw")
    post_form(client, f"{REPO}/settings", visibility="public", gated="manual")
    return client


def visitor(client: TestClient, name: str) -> TestClient:
    other = TestClient(client.app, raise_server_exceptions=False)
    join(other, name, f"{name}-password")
    return other


def _request_id(client: TestClient) -> str:
    page = client.get(f"{REPO}/access-requests").text
    return page.split('name="request_id" value="')[1].split('"')[0]


def test_review_accept_and_notify(gated: TestClient) -> None:
    gina = visitor(gated, "gina")
    assert post_form(gina, f"{REPO}/ask-access").status_code == 400  # Company is required
    assert post_form(gina, f"{REPO}/ask-access", Company="Acme").status_code == 303
    assert "awaiting a review" in gina.get(REPO).text
    assert 'aria-label="1 unread"' in gated.get("/").text  # alice hears of the request
    review = gated.get(f"{REPO}/access-requests")
    assert review.status_code == 200 and 'data-user="gina"' in review.text and "Acme" in review.text
    form = {"request_id": _request_id(gated), "status": "accepted", "tab": "pending"}
    answer = post_form(gated, f"{REPO}/access-requests/handle", **form)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{REPO}/access-requests?status=pending"
    assert 'data-user="gina"' in gated.get(f"{REPO}/access-requests?status=accepted").text
    assert gina.get(f"{REPO}/blob/main/w.txt").status_code == 200
    notes = gina.get("/notifications").text
    assert "Your request to access model alice/gated-model was accepted" in notes
    assert post_form(gina, "/notifications/read").status_code == 303
    assert "unread" not in gina.get("/").text.split("</header>")[0]


def test_grant_and_reject_with_a_reason(gated: TestClient) -> None:
    visitor(gated, "hank")
    assert post_form(gated, f"{REPO}/access-requests/grant", user="hank").status_code == 303
    assert post_form(gated, f"{REPO}/access-requests/grant", user="hank").status_code == 409
    assert post_form(gated, f"{REPO}/access-requests/grant", user="nobody").status_code == 404
    assert post_form(gated, f"{REPO}/access-requests/grant", user="").status_code == 400
    form = {"request_id": _accepted_id(gated), "status": "rejected", "reason": "x" * 300}
    assert post_form(gated, f"{REPO}/access-requests/handle", **form).status_code == 400
    form["reason"] = "no longer"
    assert post_form(gated, f"{REPO}/access-requests/handle", **form).status_code == 303
    assert "no longer" not in gated.get(f"{REPO}/access-requests?status=rejected").text
    assert 'data-user="hank"' in gated.get(f"{REPO}/access-requests?status=rejected").text


def _accepted_id(client: TestClient) -> str:
    page = client.get(f"{REPO}/access-requests?status=accepted").text
    return page.split('name="request_id" value="')[1].split('"')[0]


def test_only_writers_review(gated: TestClient) -> None:
    gina = visitor(gated, "gina")
    post_form(gina, f"{REPO}/ask-access", Company="Acme")
    request_id = _request_id(gated)
    stranger = TestClient(gated.app, raise_server_exceptions=False)
    for who in (stranger, gina, visitor(gated, "ivan")):
        assert who.get(f"{REPO}/access-requests").status_code in (401, 403, 404)
        for path, form in (("handle", {"request_id": request_id, "status": "accepted"}),
                           ("grant", {"user": "gina"})):  # fmt: skip
            data = {"csrf_token": csrf(who, "/login"), **form}
            answer = who.post(f"{REPO}/access-requests/{path}", data=data, follow_redirects=False)
            assert answer.status_code in (401, 403, 404), (path, answer.status_code)
            assert answer.headers["x-error-message"]
    assert 'data-user="gina"' in gated.get(f"{REPO}/access-requests").text  # still pending
    assert stranger.get("/notifications").status_code == 401


def test_forms_without_csrf_or_with_junk_are_refused(gated: TestClient) -> None:
    no_token = gated.post(f"{REPO}/access-requests/grant", data={"user": "alice"})
    assert no_token.status_code == 403
    assert gated.post("/notifications/read", data={}).status_code == 403
    token = csrf(gated)
    for form in ({"request_id": "zz", "status": "accepted"},
                 {"request_id": "f" * 24, "status": "accepted"},
                 {"request_id": _request_id_or_none(gated), "status": "granted"}):  # fmt: skip
        data = {"csrf_token": token, **form}
        answer = gated.post(f"{REPO}/access-requests/handle", data=data, follow_redirects=False)
        assert 400 <= answer.status_code < 500
    assert gated.get(f"{REPO}/access-requests?status=nonsense").status_code == 200


def _request_id_or_none(client: TestClient) -> str:
    page = client.get(f"{REPO}/access-requests").text
    return page.split('name="request_id" value="')[1].split('"')[0] if "request_id" in page else ""
