"""Errors look the same everywhere: status, JSON body and the HF error headers."""

import httpx
from fastapi.testclient import TestClient


def _assert_hf_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status
    assert response.headers["X-Request-Id"]
    assert response.headers["X-Error-Message"]
    assert response.headers.get("X-Error-Code") == code


def test_unknown_route_is_a_404_with_headers(client: TestClient) -> None:
    response = client.get("/api/nothing/here")
    _assert_hf_error(response, 404)
    assert response.json() == {"error": response.headers["X-Error-Message"]}


def test_missing_repo_anonymous_is_401_and_authenticated_404(
    client: TestClient, token: str
) -> None:
    _assert_hf_error(client.get("/api/models/alice/missing"), 401, "RepoNotFound")
    auth = {"authorization": f"Bearer {token}"}
    response = client.get("/api/models/alice/missing", headers=auth)
    _assert_hf_error(response, 404, "RepoNotFound")
    assert response.json() == {"error": "Repository not found"}


def test_head_errors_carry_headers_only(client: TestClient) -> None:
    response = client.head("/alice/missing/resolve/main/config.json")
    _assert_hf_error(response, 401, "RepoNotFound")
    assert response.content == b""


def test_bad_token_is_401_without_error_code(client: TestClient) -> None:
    response = client.get("/api/whoami-v2", headers={"authorization": "Bearer hf_nope"})
    _assert_hf_error(response, 401, None)
    assert response.headers["X-Error-Message"] == "Invalid credentials in Authorization header"


def test_invalid_body_is_400(client: TestClient, token: str) -> None:
    auth = {"authorization": f"Bearer {token}"}
    response = client.post("/api/repos/create", headers=auth, json={"nope": 1})
    _assert_hf_error(response, 400)


def test_client_trace_id_becomes_the_request_id(client: TestClient) -> None:
    response = client.get("/api/models/a/b", headers={"X-Amzn-Trace-Id": "Root=1-abc"})
    assert response.headers["X-Request-Id"] == "Root=1-abc"


def test_oversized_json_body_is_413(client: TestClient, token: str) -> None:
    body = b'{"content": "' + b"x" * (17 * 1024 * 1024) + b'"}'
    response = client.post(
        "/api/validate-yaml", content=body, headers={"content-type": "application/json"}
    )
    _assert_hf_error(response, 413)


def test_oversized_chunked_body_is_413(client: TestClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * (1024 * 1024)

    response = client.post("/api/validate-yaml", content=chunks())
    _assert_hf_error(response, 413)


def test_creating_an_existing_repo_is_409_with_its_url(client: TestClient, token: str) -> None:
    auth = {"authorization": f"Bearer {token}"}
    body = {"name": "twice", "type": "dataset"}
    assert client.post("/api/repos/create", headers=auth, json=body).status_code == 200
    response = client.post("/api/repos/create", headers=auth, json=body)
    _assert_hf_error(response, 409)
    assert response.json()["url"] == "http://testserver/datasets/alice/twice"
