"""Gated repos and access requests (community-plans.md §2) as stock huggingface_hub 2.4 and raw
HTTP see them: the settings, the requester's form at `POST /{repo}/ask-access`, the owner's list
and handle calls, the `GatedRepo` error at each state, who may do what, and bad input."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError
from huggingface_hub.hf_api import AccessRequest

from support import Hub, unique

pytestmark = pytest.mark.compat

CARD = """---
license: other
extra_gated_heading: Ask for the weights
extra_gated_prompt: The weights are for research only.
extra_gated_fields:
  Company: text
  Country: country
  Start date: date_picker
  Use:
    type: select
    options:
      - Research
      - label: Something else
        value: other
  I agree to the terms: checkbox
---
# Gated
"""
ANSWERS = {
    "Company": "Acme Labs",
    "Country": "France",
    "Start date": "2026-12-01",
    "Use": "other",
    "I agree to the terms": True,
}
PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


def client(hub: Hub, token: str | bool) -> HfApi:
    return HfApi(endpoint=hub.endpoint, token=token)


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def assert_hub_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers.get("x-error-message"), response.headers
    assert response.headers.get("x-request-id")
    if code is not None:
        assert response.headers.get("x-error-code") == code
    assert response.json()["error"] == response.headers["x-error-message"]


@pytest.fixture(autouse=True)
def no_crash(hub: Hub) -> Iterator[None]:
    log = hub.data_dir / "server.log"
    start = log.stat().st_size
    yield
    with log.open("rb") as handle:
        handle.seek(start)
        assert b"unhandled error" not in handle.read()


def gated_repo(hub: Hub, gated: str, *, repo_type: str = "model", card: str = "") -> str:
    owner = client(hub, hub.alice)
    repo_id = owner.create_repo(
        f"alice/{unique('gated')}", repo_type=repo_type,
        space_sdk="static" if repo_type == "space" else None,
    ).repo_id  # fmt: skip
    files = {"w.txt": b"weights"} | ({"README.md": card.encode()} if card else {})
    for path, data in files.items():
        owner.upload_file(
            path_or_fileobj=data, path_in_repo=path, repo_id=repo_id, repo_type=repo_type
        )
    owner.update_repo_settings(repo_id, gated=gated, repo_type=repo_type)  # type: ignore[arg-type]
    return repo_id


def ask(
    hub: Hub, repo_id: str, token: str | None, answers: object = None, *, repo_type: str = "model"
) -> httpx.Response:
    url = f"{hub.endpoint}/{PREFIX[repo_type]}{repo_id}/ask-access"
    headers = auth(token) if token else {}
    if answers is None:
        return httpx.post(url, headers=headers)
    return httpx.post(url, headers=headers, json=answers)


# --- settings and what the client sees ------------------------------------------------------


@pytest.mark.parametrize("repo_type", ["model", "dataset", "space"])
def test_gating_is_a_setting_clients_read(hub: Hub, repo_type: str) -> None:
    owner = client(hub, hub.alice)
    repo_id = gated_repo(hub, "manual", repo_type=repo_type)
    assert owner.repo_info(repo_id, repo_type=repo_type).gated == "manual"
    owner.update_repo_settings(repo_id, gated="auto", repo_type=repo_type)
    assert client(hub, hub.bob).repo_info(repo_id, repo_type=repo_type).gated == "auto"
    owner.update_repo_settings(repo_id, gated=False, repo_type=repo_type)
    assert client(hub, False).repo_info(repo_id, repo_type=repo_type).gated is False
    assert_hub_error(ask(hub, repo_id, hub.bob, repo_type=repo_type), 400, "RepoNotGated")


def _refusal(hub: Hub, repo_id: str, token: str | None) -> httpx.Response:
    url = f"{hub.endpoint}/{repo_id}/resolve/main/w.txt"
    return httpx.get(url, headers=auth(token) if token else {})


def test_the_gated_error_at_each_state(hub: Hub, tmp_path: Path) -> None:
    repo_id = gated_repo(hub, "manual")
    anonymous = _refusal(hub, repo_id, None)
    assert_hub_error(anonymous, 401, "GatedRepo")
    assert anonymous.headers["x-error-message"] == (
        f"Access to model {repo_id} is restricted. You must have access to it and be "
        "authenticated to access it. Please log in."
    )
    never = _refusal(hub, repo_id, hub.bob).headers["x-error-message"]
    assert never == (
        f"Access to model {repo_id} is restricted and you are not in the authorized list. "
        f"Visit {hub.endpoint}/{repo_id} to ask for access."
    )
    assert ask(hub, repo_id, hub.bob).status_code == 303
    pending = _refusal(hub, repo_id, hub.bob)
    assert_hub_error(pending, 403, "GatedRepo")
    assert pending.headers["x-error-message"] == (
        f"Your request to access model {repo_id} is awaiting a review from the repo authors."
    )
    with pytest.raises(GatedRepoError):
        hf_hub_download(repo_id, "w.txt", cache_dir=tmp_path, token=hub.bob)
    client(hub, hub.alice).reject_access_request(repo_id, "bob", rejection_reason="no")
    rejected = _refusal(hub, repo_id, hub.bob)
    assert_hub_error(rejected, 403, "GatedRepo")
    assert "has been rejected by the repo's authors" in rejected.headers["x-error-message"]
    assert_hub_error(ask(hub, repo_id, hub.bob), 403)  # a rejected user may not ask again
    client(hub, hub.alice).accept_access_request(repo_id, "bob")
    assert Path(hf_hub_download(repo_id, "w.txt", cache_dir=tmp_path, token=hub.bob)).exists()


def test_auto_gating_accepts_the_request_at_once(hub: Hub, tmp_path: Path) -> None:
    repo_id = gated_repo(hub, "auto", repo_type="dataset")
    with pytest.raises(GatedRepoError):
        hf_hub_download(repo_id, "w.txt", repo_type="dataset", cache_dir=tmp_path, token=hub.bob)
    response = ask(hub, repo_id, hub.bob, repo_type="dataset")
    assert response.status_code == 303
    assert response.headers["location"] == f"/datasets/{repo_id}"
    path = hf_hub_download(repo_id, "w.txt", repo_type="dataset", cache_dir=tmp_path, token=hub.bob)
    assert Path(path).read_bytes() == b"weights"
    [request] = client(hub, hub.alice).list_accepted_access_requests(repo_id, repo_type="dataset")
    assert request.username == "bob"


# --- the requester's form ---------------------------------------------------------------------


def test_the_form_of_the_card_is_enforced(hub: Hub) -> None:
    repo_id = gated_repo(hub, "manual", repo_type="space", card=CARD)
    post = lambda answers: ask(hub, repo_id, hub.bob, answers, repo_type="space")  # noqa: E731
    bad = [
        {},  # every field is required
        {**ANSWERS, "Company": "  "},
        {**ANSWERS, "I agree to the terms": False},
        {**ANSWERS, "Country": "Atlantis"},
        {**ANSWERS, "Start date": "the 3rd"},
        {**ANSWERS, "Use": "Mining"},
        {**ANSWERS, "Salary": "1"},  # not a field of the form
        {**ANSWERS, "Company": "x" * 5000},
        ["not", "an", "object"],
    ]
    for answers in bad:
        assert_hub_error(post(answers), 400)
    assert_hub_error(ask(hub, repo_id, hub.bob, repo_type="space"), 400)  # no body at all
    assert post(ANSWERS).status_code == 303
    [request] = client(hub, hub.alice).list_pending_access_requests(repo_id, repo_type="space")
    assert request.fields == {**ANSWERS, "Use": "other"}
    assert post(ANSWERS).status_code == 303  # asking again while pending changes nothing


def test_a_browser_form_post_needs_its_csrf_token(hub: Hub) -> None:
    repo_id = gated_repo(hub, "manual")
    with logged_in(hub, "bob") as login:
        _ask_in_browser(hub, login, repo_id)
    assert [r.username for r in client(hub, hub.alice).list_pending_access_requests(repo_id)] == [
        "bob"
    ]


def _ask_in_browser(hub: Hub, login: httpx.Client, repo_id: str) -> None:
    forged = login.post(f"/{repo_id}/ask-access", data={})
    assert_hub_error(forged, 403)
    token = login.get(f"/{repo_id}").text.split('name="csrf_token" value="')[1].split('"')[0]
    assert login.post(f"/{repo_id}/ask-access", data={"csrf_token": token}).status_code == 303


@contextmanager
def logged_in(hub: Hub, user: str) -> Iterator[httpx.Client]:
    """A browser-like client with `user`'s session cookie (the seeded password)."""
    with httpx.Client(base_url=hub.endpoint) as browser:
        token = browser.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        form = {"csrf_token": token, "username": user, "password": f"pw-{user}"}
        assert browser.post("/login", data=form).status_code == 303
        yield browser


# --- the owner's calls (spec §2.2) --------------------------------------------------------------


def test_list_handle_and_grant(hub: Hub) -> None:
    owner = client(hub, hub.alice)
    repo_id = gated_repo(hub, "manual", card=CARD)
    assert list(owner.list_pending_access_requests(repo_id)) == []
    assert ask(hub, repo_id, hub.bob, ANSWERS).status_code == 303
    [request] = owner.list_pending_access_requests(repo_id)
    assert isinstance(request, AccessRequest)
    assert len(request.request_id) == 24 and int(request.request_id, 16) >= 0
    assert (request.username, request.status) == ("bob", "pending")
    owner.accept_access_request(repo_id, request_id=request.request_id)
    assert [r.username for r in owner.list_accepted_access_requests(repo_id)] == ["bob"]
    owner.reject_access_request(repo_id, request_id=request.request_id, rejection_reason="late")
    assert [r.username for r in owner.list_rejected_access_requests(repo_id)] == ["bob"]
    owner.cancel_access_request(repo_id, "bob")
    assert [r.status for r in owner.list_pending_access_requests(repo_id)] == ["pending"]
    assert owner.grant_access(repo_id, "carol") == {}
    [carol] = [r for r in owner.list_accepted_access_requests(repo_id) if r.username == "carol"]
    assert carol.email is None and carol.fields is None
    for again in (
        lambda: owner.grant_access(repo_id, "carol"),
        lambda: owner.accept_access_request(repo_id, "carol"),
        lambda: owner.cancel_access_request(repo_id, "bob"),
    ):
        with pytest.raises(HfHubHTTPError):
            again()


def test_the_lists_are_link_paginated(hub: Hub) -> None:
    owner = client(hub, hub.alice)
    repo_id = gated_repo(hub, "manual")
    for user in ("bob", "carol"):
        owner.grant_access(repo_id, user)
    url = f"{hub.endpoint}/api/models/{repo_id}/user-access-request/accepted?limit=1"
    first = httpx.get(url, headers=auth(hub.alice))
    assert [r["user"]["user"] for r in first.json()] == ["bob"]
    second = httpx.get(first.links["next"]["url"], headers=auth(hub.alice))
    assert [r["user"]["user"] for r in second.json()] == ["carol"]
    assert "next" not in second.links
    assert {r.username for r in owner.list_accepted_access_requests(repo_id)} == {"bob", "carol"}


# --- who may do what ----------------------------------------------------------------------------


def _owner_calls(hub: Hub, repo_id: str) -> list[tuple[str, str, dict[str, object] | None]]:
    api = f"{hub.endpoint}/api/models/{repo_id}/user-access-request"
    return [
        ("GET", f"{api}/pending", None),
        ("POST", f"{api}/handle", {"user": "bob", "status": "accepted"}),
        ("POST", f"{api}/grant", {"user": "carol"}),
    ]


def test_only_writers_list_and_decide(hub: Hub) -> None:
    owner = client(hub, hub.alice)
    repo_id = owner.create_repo(f"acme/{unique('gated')}").repo_id
    owner.update_repo_settings(repo_id, gated="manual")
    outsider = client(hub, hub.alice).create_repo(f"alice/{unique('gated')}").repo_id
    owner.update_repo_settings(outsider, gated="manual")
    assert ask(hub, outsider, hub.bob).status_code == 303
    callers = {
        "stranger": None,
        "read token": hub.alice_read,
        "requester": hub.bob,  # on alice's own repo
        "another user": hub.carol,
    }
    for who, token in callers.items():
        for method, url, body in _owner_calls(hub, outsider):
            response = httpx.request(method, url, json=body, headers=auth(token) if token else {})
            assert response.status_code in (401, 403), (who, url, response.status_code)
            assert_hub_error(response, response.status_code)
    for method, url, body in _owner_calls(hub, repo_id):  # bob: an acme member who only reads
        response = httpx.request(method, url, json=body, headers=auth(hub.bob))
        assert_hub_error(response, 403)
    assert list(client(hub, hub.carol).list_pending_access_requests(repo_id)) == []  # a writer


def test_ask_access_needs_a_user_with_a_write_token(hub: Hub) -> None:
    repo_id = gated_repo(hub, "manual")
    assert_hub_error(ask(hub, repo_id, None), 401)
    assert_hub_error(ask(hub, repo_id, hub.alice_read), 403)
    assert_hub_error(ask(hub, repo_id, "hf_not_a_token"), 401)
    private = client(hub, hub.alice).create_repo(f"alice/{unique('p')}", private=True).repo_id
    assert_hub_error(ask(hub, private, hub.bob), 404, "RepoNotFound")
    assert_hub_error(ask(hub, f"alice/{unique('missing')}", hub.bob), 404, "RepoNotFound")


# --- malformed input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"user": "bob", "requestId": "0" * 24, "status": "accepted"},  # both
        {"status": "accepted"},  # neither
        {"user": "bob", "status": "approved"},
        {"user": "bob", "status": "rejected", "rejectionReason": "x" * 201},
        {"user": "bob", "status": "accepted", "rejectionReason": "why"},
        {"user": "../../etc/passwd", "status": "accepted"},
        {"user": "x" * 5000, "status": "accepted"},
        {"user": "nobody-at-all", "status": "accepted"},
        {"user": "acme", "status": "accepted"},  # an org, not a user
        {"requestId": "zz", "status": "accepted"},
        {"requestId": "f" * 24, "status": "accepted"},
        {"requestId": 12, "status": "accepted"},
        {"user": ["bob"], "status": "accepted"},
        {"user": "bob", "status": None},
    ],
)
def test_bad_handle_bodies_are_4xx(hub: Hub, body: dict[str, object]) -> None:
    repo_id = _shared_gated_repo(hub)
    url = f"{hub.endpoint}/api/models/{repo_id}/user-access-request/handle"
    response = httpx.post(url, json=body, headers=auth(hub.alice))
    assert 400 <= response.status_code < 500, (body, response.status_code)
    assert_hub_error(response, response.status_code)


@pytest.mark.parametrize(
    "path", ["grant", "handle", "nonsense", "pending?limit=0", "pending?limit=99999",
             "pending?cursor=%%%", "stale"]
)  # fmt: skip
def test_bad_owner_requests_are_4xx(hub: Hub, path: str) -> None:
    repo_id = _shared_gated_repo(hub)
    url = f"{hub.endpoint}/api/models/{repo_id}/user-access-request/{path}"
    method = "POST" if path in ("grant", "handle") else "GET"
    response = httpx.request(method, url, content=b"{not json", headers=auth(hub.alice))
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert_hub_error(response, response.status_code)


_SHARED: dict[str, str] = {}


def _shared_gated_repo(hub: Hub) -> str:
    if "repo" not in _SHARED:
        _SHARED["repo"] = gated_repo(hub, "manual")
        assert ask(hub, _SHARED["repo"], hub.bob).status_code == 303
    return _SHARED["repo"]


def test_the_requester_is_told_of_the_decision(hub: Hub) -> None:
    """The note waits on the requester's notifications page; it links to the repo."""
    repo_id = gated_repo(hub, "manual")
    assert ask(hub, repo_id, hub.bob).status_code == 303
    client(hub, hub.alice).reject_access_request(repo_id, "bob", rejection_reason="too early")
    with logged_in(hub, "bob") as browser:
        page = browser.get("/notifications")
    assert f"Your request to access model {repo_id} was rejected: too early" in page.text
    assert f'href="/{repo_id}"' in page.text


def test_the_api_twin_takes_the_answers_too(hub: Hub) -> None:
    repo_id = gated_repo(hub, "auto", card=CARD)
    url = f"{hub.endpoint}/api/models/{repo_id}/ask-access"
    assert_hub_error(httpx.post(url, headers=auth(hub.bob)), 400)  # the form asks for answers
    assert_hub_error(httpx.post(url, headers=auth(hub.bob), json=[1]), 400)
    answered = httpx.post(url, headers=auth(hub.bob), json=ANSWERS)
    assert answered.json() == {"status": "accepted"}
    [request] = client(hub, hub.alice).list_accepted_access_requests(repo_id)
    assert request.fields == ANSWERS
