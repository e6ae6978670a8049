"""Access rules and the error contract, as huggingface_hub 2.4 and raw HTTP see them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import (
    HfApi,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    try_to_load_from_cache,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import _CACHED_NO_EXIST

from support import Hub, unique

pytestmark = pytest.mark.compat


def client(hub: Hub, token: str | bool) -> HfApi:
    return HfApi(endpoint=hub.endpoint, token=token)


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def assert_hub_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    """Every error carries a message and a request id; the code only where clients branch."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers.get("x-error-message"), response.headers
    assert response.headers.get("x-request-id")
    assert response.headers.get("x-error-code") == code
    if response.request.method != "HEAD":
        assert response.json()["error"] == response.headers["x-error-message"]


@pytest.fixture(autouse=True)
def no_crash(hub: Hub) -> Iterator[None]:
    """A 500 may hide behind the client's retries: the server log must stay free of crashes."""
    log = hub.data_dir / "server.log"
    start = log.stat().st_size
    yield
    with log.open("rb") as handle:
        handle.seek(start)
        assert b"unhandled error" not in handle.read()


@pytest.fixture
def private_repo(hub: Hub) -> str:
    api = client(hub, hub.alice)
    repo_id = api.create_repo(f"alice/{unique('private')}", private=True).repo_id
    api.upload_file(path_or_fileobj=b"secret", path_in_repo="secret.txt", repo_id=repo_id)
    return repo_id


@pytest.fixture
def public_repo(hub: Hub) -> str:
    api = client(hub, hub.alice)
    repo_id = api.create_repo(f"alice/{unique('public')}").repo_id
    api.upload_file(path_or_fileobj=b"hello", path_in_repo="hello.txt", repo_id=repo_id)
    return repo_id


# --- the client's exception mapping ----------------------------------------------------------


def test_private_repo_is_not_found_for_anonymous_and_strangers(
    hub: Hub, private_repo: str, tmp_path: Path
) -> None:
    for token, status in ((False, 401), (hub.bob, 404)):
        with pytest.raises(RepositoryNotFoundError) as error:
            client(hub, token).model_info(private_repo)
        assert error.value.response.status_code == status
        with pytest.raises(RepositoryNotFoundError):
            hf_hub_download(private_repo, "secret.txt", cache_dir=tmp_path, token=token)
        assert not client(hub, token).repo_exists(private_repo)
    # The owner's read token reads it.
    reader = client(hub, hub.alice_read)
    assert reader.model_info(private_repo).private is True
    path = hf_hub_download(private_repo, "secret.txt", cache_dir=tmp_path, token=hub.alice_read)
    assert Path(path).read_bytes() == b"secret"


PRIVATE_ROUTES = [
    ("GET", "/api/models/{id}"),
    ("GET", "/api/models/{id}/revision/main"),
    ("GET", "/api/models/{id}/tree/main"),
    ("POST", "/api/models/{id}/paths-info/main"),
    ("GET", "/api/models/{id}/refs"),
    ("GET", "/api/models/{id}/commits/main"),
    ("GET", "/api/models/{id}/discussions"),
    ("POST", "/api/models/{id}/preupload/main"),
    ("GET", "/{id}/resolve/main/secret.txt"),
    ("HEAD", "/{id}/resolve/main/secret.txt"),
    ("POST", "/{id}.git/info/lfs/objects/batch"),
    ("GET", "/api/models/{id}/auth-check"),
]


@pytest.mark.parametrize(("method", "route"), PRIVATE_ROUTES)
def test_private_repo_is_not_found_on_every_route(
    hub: Hub, private_repo: str, method: str, route: str
) -> None:
    url = hub.endpoint + route.format(id=private_repo)
    body = {"operation": "download", "objects": [{"oid": "a" * 64, "size": 1}], "files": []}
    for headers, status in (({}, 401), (auth(hub.bob), 404)):
        response = httpx.request(method, url, headers=headers, json=body)
        assert response.status_code == status, (method, route)
        assert response.headers["x-error-code"] == "RepoNotFound"
    listing = httpx.get(f"{hub.endpoint}/api/models", params={"search": private_repo.split("/")[1]})
    assert listing.json() == []


def test_missing_revision(hub: Hub, public_repo: str, tmp_path: Path) -> None:
    api = client(hub, hub.alice)
    with pytest.raises(RevisionNotFoundError):
        api.model_info(public_repo, revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(public_repo, "hello.txt", revision="nope", cache_dir=tmp_path)
    with pytest.raises(RevisionNotFoundError):
        list(api.list_repo_tree(public_repo, revision="nope"))
    with pytest.raises(RevisionNotFoundError):
        api.upload_file(
            path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=public_repo, revision="nope"
        )


def test_missing_file_is_entry_not_found_with_repo_commit(
    hub: Hub, public_repo: str, tmp_path: Path
) -> None:
    sha = client(hub, False).model_info(public_repo).sha
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(public_repo, "missing.txt", cache_dir=tmp_path)
    # X-Repo-Commit on the 404 lets the client remember the miss (transformers relies on it).
    cached = try_to_load_from_cache(public_repo, "missing.txt", cache_dir=tmp_path)
    assert cached is _CACHED_NO_EXIST
    with pytest.raises(EntryNotFoundError):
        get_hf_file_metadata(hf_hub_url(public_repo, "missing.txt"))
    head = httpx.head(f"{hub.endpoint}/{public_repo}/resolve/main/missing.txt")
    assert_hub_error(head, 404, "EntryNotFound")
    assert head.headers["x-repo-commit"] == sha
    with pytest.raises(EntryNotFoundError):
        list(client(hub, False).list_repo_tree(public_repo, path_in_repo="no/such/folder"))


def test_gated_repo_shows_info_but_not_files(hub: Hub, tmp_path: Path) -> None:
    owner = client(hub, hub.alice)
    repo_id = owner.create_repo(f"alice/{unique('gated')}").repo_id
    owner.upload_file(path_or_fileobj=b"weights", path_in_repo="w.txt", repo_id=repo_id)
    owner.update_repo_settings(repo_id, gated="manual")
    for token, status in ((False, 401), (hub.bob, 403)):
        api = client(hub, token)
        assert api.model_info(repo_id).gated == "manual"
        assert api.repo_exists(repo_id)
        with pytest.raises(GatedRepoError) as error:
            hf_hub_download(repo_id, "w.txt", cache_dir=tmp_path, token=token)
        assert error.value.response.status_code == status
    with pytest.raises(GatedRepoError, match="is restricted and you are not in the authorized"):
        client(hub, hub.carol).auth_check(repo_id)
    path = hf_hub_download(repo_id, "w.txt", cache_dir=tmp_path, token=hub.alice)
    assert Path(path).read_bytes() == b"weights"


def test_access_requests_to_gated_repos(hub: Hub, tmp_path: Path) -> None:
    owner = client(hub, hub.alice)
    repo_id = owner.create_repo(f"alice/{unique('gated')}").repo_id
    owner.upload_file(path_or_fileobj=b"w", path_in_repo="w.txt", repo_id=repo_id)
    owner.update_repo_settings(repo_id, gated="manual")
    ask = f"{hub.endpoint}/api/models/{repo_id}/ask-access"
    assert httpx.post(ask, headers=auth(hub.bob)).json() == {"status": "pending"}
    with pytest.raises(GatedRepoError):
        hf_hub_download(repo_id, "w.txt", cache_dir=tmp_path, token=hub.bob)
    pending = list(owner.list_pending_access_requests(repo_id))
    assert [r.username for r in pending] == ["bob"]
    owner.accept_access_request(repo_id, "bob")
    assert Path(hf_hub_download(repo_id, "w.txt", cache_dir=tmp_path, token=hub.bob)).exists()
    assert [r.username for r in owner.list_accepted_access_requests(repo_id)] == ["bob"]
    owner.reject_access_request(repo_id, "bob", rejection_reason="no")
    with pytest.raises(GatedRepoError):
        client(hub, hub.bob).auth_check(repo_id)
    owner.grant_access(repo_id, "carol")
    client(hub, hub.carol).auth_check(repo_id)
    with pytest.raises(HfHubHTTPError) as error:
        list(client(hub, hub.bob).list_pending_access_requests(repo_id))
    assert error.value.response.status_code == 403


def test_auto_gating_accepts_at_once(hub: Hub, tmp_path: Path) -> None:
    owner = client(hub, hub.alice)
    repo_id = owner.create_repo(f"alice/{unique('auto')}").repo_id
    owner.update_repo_settings(repo_id, gated="auto")
    ask = f"{hub.endpoint}/api/models/{repo_id}/ask-access"
    assert httpx.post(ask, headers=auth(hub.carol)).json() == {"status": "accepted"}
    client(hub, hub.carol).auth_check(repo_id)
    assert httpx.post(ask).status_code == 401


def test_read_token_cannot_write(hub: Hub, public_repo: str) -> None:
    reader = client(hub, hub.alice_read)
    with pytest.raises(HfHubHTTPError) as error:
        reader.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=public_repo)
    assert error.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as error:
        reader.create_repo(f"alice/{unique()}")
    assert error.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as error:
        reader.delete_repo(public_repo)
    assert error.value.response.status_code == 403
    assert client(hub, hub.alice).repo_exists(public_repo)


def test_bad_token_is_401_without_error_code(hub: Hub, public_repo: str) -> None:
    with pytest.raises(HfHubHTTPError, match="Invalid user token"):
        client(hub, "hf_not_a_real_token").whoami()
    response = httpx.get(f"{hub.endpoint}/api/whoami-v2", headers=auth("hf_not_a_real_token"))
    assert_hub_error(response, 401)
    assert response.headers["x-error-message"] == "Invalid credentials in Authorization header"
    response = httpx.get(f"{hub.endpoint}/api/whoami-v2")
    assert_hub_error(response, 401)
    info = httpx.get(f"{hub.endpoint}/api/models/{public_repo}", headers=auth("hf_nope"))
    assert_hub_error(info, 401)


# --- raw HTTP: bad input gives a 4xx with the error headers, never a 500 ---------------------


def ndjson(*lines: object) -> bytes:
    return b"\n".join(json.dumps(line).encode() for line in lines) + b"\n"


HEADER = {"key": "header", "value": {"summary": "raw commit", "description": ""}}


def file_line(path: str, data: bytes) -> dict[str, object]:
    content = base64.b64encode(data).decode()
    return {"key": "file", "value": {"path": path, "content": content, "encoding": "base64"}}


def post_commit(hub: Hub, repo_id: str, body: bytes, revision: str = "main") -> httpx.Response:
    return httpx.post(
        f"{hub.endpoint}/api/models/{repo_id}/commit/{revision}",
        content=body,
        headers={**auth(hub.alice), "content-type": "application/x-ndjson"},
    )


def head_sha(hub: Hub, repo_id: str) -> str:
    return httpx.get(f"{hub.endpoint}/api/models/{repo_id}", headers=auth(hub.alice)).json()["sha"]


def test_raw_commit_accepts_a_valid_payload(hub: Hub, public_repo: str) -> None:
    response = post_commit(hub, public_repo, ndjson(HEADER, file_line("raw.txt", b"raw")))
    assert response.status_code == 200, response.text
    assert response.json()["commitOid"] == head_sha(hub, public_repo)


# Each bad line follows a good file, which must not sneak into a partial commit.
GOOD = file_line("good.txt", b"good")
BAD_PAYLOADS = {
    "malformed json": b'{"key": "header", "value": {"summary": "x"\n',
    "not an object": b"[1, 2, 3]\n",
    "empty body": b"",
    "header not first": ndjson(GOOD, HEADER),
    "invalid base64": ndjson(
        HEADER,
        GOOD,
        {"key": "file", "value": {"path": "a.txt", "content": "!!!%%%", "encoding": "base64"}},
    ),
    "unknown key": ndjson(HEADER, GOOD, {"key": "explode", "value": {"path": "a.txt"}}),
    "missing path": ndjson(
        HEADER, GOOD, {"key": "file", "value": {"content": "YQ==", "encoding": "base64"}}
    ),
    "lfs object never uploaded": ndjson(
        HEADER,
        GOOD,
        {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "a" * 64}},
    ),
}


@pytest.mark.parametrize("body", BAD_PAYLOADS.values(), ids=BAD_PAYLOADS.keys())
def test_bad_commit_payload_is_400_and_commits_nothing(
    hub: Hub, public_repo: str, body: bytes
) -> None:
    before = head_sha(hub, public_repo)
    assert_hub_error(post_commit(hub, public_repo, body), 400)
    assert head_sha(hub, public_repo) == before


@pytest.mark.parametrize("path", ["../x", "a/../../x", "..\\x", "/abs", ".git/config", "a//b"])
def test_unsafe_paths_are_422_and_commit_nothing(hub: Hub, public_repo: str, path: str) -> None:
    before = head_sha(hub, public_repo)
    body = ndjson(HEADER, file_line("ok.txt", b"fine"), file_line(path, b"evil"))
    assert_hub_error(post_commit(hub, public_repo, body), 422)
    delete = ndjson(HEADER, {"key": "deletedFile", "value": {"path": path}})
    assert_hub_error(post_commit(hub, public_repo, delete), 422)
    assert head_sha(hub, public_repo) == before
    files = httpx.get(f"{hub.endpoint}/api/models/{public_repo}/tree/main").json()
    assert sorted(f["path"] for f in files) == [".gitattributes", "hello.txt"]


def test_unknown_revisions_are_revision_not_found(hub: Hub, public_repo: str) -> None:
    base = f"{hub.endpoint}/api/models/{public_repo}"
    for response in (
        httpx.get(f"{base}/revision/nope"),
        httpx.get(f"{base}/tree/nope"),
        httpx.get(f"{base}/commits/nope"),
        httpx.head(f"{hub.endpoint}/{public_repo}/resolve/nope/hello.txt"),
        httpx.get(f"{hub.endpoint}/{public_repo}/resolve/{'0' * 40}/hello.txt"),
        post_commit(hub, public_repo, ndjson(HEADER), revision="nope"),
    ):
        assert_hub_error(response, 404, "RevisionNotFound")
        assert response.headers["x-error-message"].startswith("Invalid rev id: ")


def test_missing_repos_are_repo_not_found(hub: Hub) -> None:
    missing = f"alice/{unique('missing')}"
    assert_hub_error(httpx.get(f"{hub.endpoint}/api/models/{missing}"), 401, "RepoNotFound")
    response = httpx.get(f"{hub.endpoint}/api/models/{missing}", headers=auth(hub.bob))
    assert_hub_error(response, 404, "RepoNotFound")
    assert response.headers["x-error-message"] == "Repository not found"
    head = httpx.head(f"{hub.endpoint}/{missing}/resolve/main/x", headers=auth(hub.bob))
    assert_hub_error(head, 404, "RepoNotFound")


@pytest.mark.parametrize(
    "name", ["bad name", "-dash", "dot.", "a..b", "a--b", "x.git", "é", "x" * 97, ""]
)
def test_invalid_repo_names_are_400(hub: Hub, name: str) -> None:
    response = httpx.post(
        f"{hub.endpoint}/api/repos/create",
        json={"name": name, "organization": None, "type": "model"},
        headers=auth(hub.alice),
    )
    assert_hub_error(response, 400)


def test_malformed_requests_are_4xx(hub: Hub, public_repo: str) -> None:
    base = f"{hub.endpoint}/api/models/{public_repo}"
    responses = [
        httpx.post(f"{hub.endpoint}/api/repos/create", content=b"{oops", headers=auth(hub.alice)),
        httpx.post(f"{hub.endpoint}/api/repos/create", json=[1], headers=auth(hub.alice)),
        httpx.get(f"{hub.endpoint}/api/models?cursor=%%%"),
        httpx.get(f"{base}/tree/main?cursor=not-a-cursor"),
        httpx.post(f"{base}/preupload/main", json={"files": "no"}, headers=auth(hub.alice)),
        httpx.post(
            f"{base}/preupload/main",
            json={"files": [{"path": "a", "size": 1, "sample": "YQ"}]},  # bad padding
            headers=auth(hub.alice),
        ),
        httpx.post(f"{base}/branch/dev", content=b"{bad", headers=auth(hub.alice)),
        httpx.put(f"{base}/settings", json={"gated": "sometimes"}, headers=auth(hub.alice)),
    ]
    for response in responses:
        assert 400 <= response.status_code < 500, (response.request.url, response.text)
        assert response.headers.get("x-error-message"), response.request.url
        assert response.headers.get("x-request-id")
