"""Concurrent requests on one repo: each gets HF's answer (a number of its own, or a 409), and
the server never crashes."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from threading import Barrier
from typing import TypeVar

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from support import Hub, running_hub, unique

pytestmark = pytest.mark.compat

N = 12  # concurrent requests per burst: enough to collide, few enough for a small machine
T = TypeVar("T")


@pytest.fixture(scope="module")
def workers(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A replica of the shared hub (same data dir) serving with three worker processes, where
    requests race across processes too, and its log."""
    log = tmp_path_factory.mktemp("race-replica") / "server.log"
    with running_hub(hub.data_dir, log_path=log, workers=3) as endpoint:
        yield endpoint, log


@pytest.fixture(params=["one process", "three workers"])
def server(request: pytest.FixtureRequest, hub: Hub) -> Iterator[Hub]:
    """The hub to race on; its log must stay free of crashes (retries can hide a 500)."""
    if request.param == "one process":
        endpoint, log = hub.endpoint, hub.data_dir / "server.log"
    else:
        endpoint, log = request.getfixturevalue("workers")
    start = log.stat().st_size
    yield replace(hub, endpoint=endpoint)
    with log.open("rb") as handle:
        handle.seek(start)
        assert b"unhandled error" not in handle.read()


def at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run the calls on threads of their own, released together."""
    barrier = Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_concurrent_creates_of_one_repo(server: Hub) -> None:
    name = unique("race")
    headers = {"authorization": f"Bearer {server.alice}"}

    def create() -> httpx.Response:
        body = {"name": name, "organization": "alice", "type": "model"}
        return httpx.post(f"{server.endpoint}/api/repos/create", json=body, headers=headers)

    responses = at_once([create] * N)
    assert Counter(r.status_code for r in responses) == {200: 1, 409: N - 1}
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.json()["error"] == "You already created this model repo"
        assert conflict.json()["url"] == f"{server.endpoint}/alice/{name}"
    # What clients see: `exist_ok=True` accepts the 409, so every caller gets the repo.
    api = HfApi(endpoint=server.endpoint, token=server.alice)
    again = unique("race")
    urls = at_once([lambda: api.create_repo(f"alice/{again}", exist_ok=True)] * N)
    assert {u.repo_id for u in urls} == {f"alice/{again}"}
    assert api.list_repo_files(f"alice/{again}") == [".gitattributes"]


def test_concurrent_discussions_and_prs_get_numbers_of_their_own(server: Hub) -> None:
    owner = HfApi(endpoint=server.endpoint, token=server.alice)
    repo_id = owner.create_repo(f"alice/{unique('race')}").repo_id
    bob = HfApi(endpoint=server.endpoint, token=server.bob)
    calls: list[Callable[[], int]] = []
    for i in range(N // 3):
        calls.append(lambda i=i: bob.create_discussion(repo_id, f"question {i}").num)
        calls.append(lambda i=i: bob.create_pull_request(repo_id, f"proposal {i}").num)
        add = [CommitOperationAdd(f"pr-{i}.txt", str(i).encode())]
        calls.append(
            lambda add=add: int(
                bob.create_commit(repo_id, add, commit_message="pr", create_pr=True).pr_num or 0
            )
        )
    nums = at_once(calls)
    assert sorted(nums) == list(range(1, len(calls) + 1))
    listed = owner.get_repo_discussions(repo_id)
    assert sorted(d.num for d in listed) == sorted(nums)
    prs = owner.list_repo_refs(repo_id, include_pull_requests=True).pull_requests or []
    assert len(prs) == 2 * (N // 3)  # every PR has its own ref


def test_concurrent_commits_to_one_branch_all_land(server: Hub) -> None:
    api = HfApi(endpoint=server.endpoint, token=server.alice)
    repo_id = api.create_repo(f"alice/{unique('race')}").repo_id
    calls = [
        lambda i=i: (
            api.create_commit(
                repo_id, [CommitOperationAdd(f"f{i}.txt", b"x")], commit_message=f"c{i}"
            ).oid
        )
        for i in range(N)
    ]
    oids = at_once(calls)
    assert len(set(oids)) == N
    files = api.list_repo_files(repo_id)
    assert sorted(f for f in files if f.startswith("f")) == sorted(f"f{i}.txt" for i in range(N))


def test_concurrent_access_requests_of_one_user(server: Hub) -> None:
    owner = HfApi(endpoint=server.endpoint, token=server.alice)
    repo_id = owner.create_repo(f"alice/{unique('race')}").repo_id
    owner.update_repo_settings(repo_id, gated="manual")
    url = f"{server.endpoint}/api/models/{repo_id}/ask-access"
    headers = {"authorization": f"Bearer {server.bob}"}
    responses = at_once([lambda: httpx.post(url, headers=headers)] * N)
    assert [r.status_code for r in responses] == [200] * N
    assert [r.username for r in owner.list_pending_access_requests(repo_id)] == ["bob"]


def test_concurrent_ref_changes_of_one_name(server: Hub) -> None:
    api = HfApi(endpoint=server.endpoint, token=server.alice)
    repo_id = api.create_repo(f"alice/{unique('race')}").repo_id
    base = f"{server.endpoint}/api/models/{repo_id}"
    headers = {"authorization": f"Bearer {server.alice}"}

    def status(method: str, path: str, body: object = None) -> int | str:
        response = httpx.request(method, base + path, json=body, headers=headers)
        if response.status_code in (200, 404):
            return response.status_code
        # A refusal other than the expected "already exists": its message says why.
        message = response.headers.get("x-error-message", "")
        return 409 if "already exists" in message else f"{response.status_code} {message}"

    for create, delete in (
        (lambda: status("POST", "/branch/dev"), lambda: status("DELETE", "/branch/dev")),
        (lambda: status("POST", "/tag/main", {"tag": "v1"}), lambda: status("DELETE", "/tag/v1")),
    ):
        assert Counter(at_once([create] * N)) == {200: 1, 409: N - 1}
        assert Counter(at_once([delete] * N)) == {200: 1, 404: N - 1}


def test_commits_racing_a_delete_get_404_or_409(server: Hub) -> None:
    api = HfApi(endpoint=server.endpoint, token=server.alice)
    repo_id = api.create_repo(f"alice/{unique('race')}").repo_id
    headers = {"authorization": f"Bearer {server.alice}"}
    lines = [
        {"key": "header", "value": {"summary": "racing", "description": ""}},
        {"key": "file", "value": {"path": "f.txt", "content": "eA==", "encoding": "base64"}},
    ]
    payload = b"".join(json.dumps(line).encode() + b"\n" for line in lines)

    def delete() -> int:
        body = {"name": repo_id, "type": "model"}
        url = f"{server.endpoint}/api/repos/delete"
        return httpx.request("DELETE", url, json=body, headers=headers).status_code

    def commit() -> int:
        url = f"{server.endpoint}/api/models/{repo_id}/commit/main"
        return httpx.post(url, content=payload, headers=headers).status_code

    statuses = at_once([delete, commit] * (N // 2))
    assert set(statuses) <= {200, 404, 409}, statuses
    assert not api.repo_exists(repo_id)
