"""Access to large files follows repos: a sha256 alone reads, links or commits nothing.

Each test plays an attacker with an account of their own (bob, his read token, or nobody)
who knows the sha256 of a file in alice's private repo, against a live hub, through every way a
content-addressed object can be reached: the LFS batch API (download and upload), a commit naming
the object, a git push of a pointer, and Xet. Files are plain LFS objects (the batch API, as
git-lfs and clients without hf_xet use it) and Xet files (the stock client with hf_xet).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi

from support import Hub, create_token, unique

pytestmark = pytest.mark.compat

LFS_JSON = "application/vnd.git-lfs+json"


@dataclass(frozen=True)
class Secret:
    """A large file of alice's private repo, stored as a plain LFS object or a Xet file."""

    kind: str
    repo_id: str
    oid: str
    data: bytes


def _auth(token: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"} if token else {}


def _batch(
    hub: Hub, repo_id: str, token: str | None, operation: str, oid: str, size: int
) -> dict[str, Any]:
    response = httpx.post(
        f"{hub.endpoint}/{repo_id}.git/info/lfs/objects/batch",
        json={
            "operation": operation,
            "transfers": ["basic"],
            "objects": [{"oid": oid, "size": size}],
        },
        headers={**_auth(token), "accept": LFS_JSON, "content-type": LFS_JSON},
    )
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()["objects"][0]
    return item


def lfs_upload(hub: Hub, repo_id: str, token: str, data: bytes) -> str:
    """Upload through the LFS batch API as git-lfs does (PUT, then verify); returns the oid."""
    oid = hashlib.sha256(data).hexdigest()
    item = _batch(hub, repo_id, token, "upload", oid, len(data))
    actions = item.get("actions", {})
    if "upload" in actions:
        assert httpx.put(actions["upload"]["href"], content=data).status_code == 200
        verify = httpx.post(actions["verify"]["href"], json={"oid": oid, "size": len(data)})
        assert verify.status_code == 200, verify.text
    return oid


def commit_lfs(hub: Hub, repo_id: str, token: str, oid: str, path: str = "w.bin") -> httpx.Response:
    lines = [
        {"key": "header", "value": {"summary": "add a large file", "description": ""}},
        {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid}},
    ]
    return httpx.post(
        f"{hub.endpoint}/api/models/{repo_id}/commit/main",
        content=b"\n".join(json.dumps(line).encode() for line in lines),
        headers={**_auth(token), "content-type": "application/x-ndjson"},
    )


@pytest.fixture(scope="module")
def bob_read(hub: Hub) -> str:
    return create_token(hub.data_dir, "bob", "read")


@pytest.fixture(scope="module", params=["lfs", "xet"])
def secret(request: pytest.FixtureRequest, hub: Hub) -> Secret:
    """A private file stored as a plain LFS object, or as a Xet file by the stock client."""
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = api.create_repo(f"alice/{unique('secret')}", private=True).repo_id
    data = os.urandom(300_000)
    if request.param == "lfs":
        oid = lfs_upload(hub, repo_id, hub.alice, data)
        assert commit_lfs(hub, repo_id, hub.alice, oid, "weights.bin").status_code == 200
    else:
        api.upload_file(path_or_fileobj=data, path_in_repo="weights.bin", repo_id=repo_id)
        oid = hashlib.sha256(data).hexdigest()
    return Secret(request.param, repo_id, oid, data)


@pytest.fixture(scope="module")
def bob_repo(hub: Hub) -> str:
    return HfApi(endpoint=hub.endpoint, token=hub.bob).create_repo(f"bob/{unique('own')}").repo_id


def test_the_owner_reads_her_file_through_her_repo(hub: Hub, secret: Secret) -> None:
    item = _batch(hub, secret.repo_id, hub.alice, "download", secret.oid, len(secret.data))
    assert httpx.get(item["actions"]["download"]["href"]).content == secret.data


@pytest.mark.parametrize("who", ["bob", "bob_read", "anonymous"])
def test_no_repo_of_the_attacker_serves_the_file(
    hub: Hub, secret: Secret, bob_repo: str, bob_read: str, who: str
) -> None:
    token = {"bob": hub.bob, "bob_read": bob_read, "anonymous": None}[who]
    item = _batch(hub, bob_repo, token, "download", secret.oid, len(secret.data))
    assert "actions" not in item
    assert item["error"]["code"] == 404


def test_a_commit_naming_an_unheld_file_is_refused(hub: Hub, secret: Secret, bob_repo: str) -> None:
    api = HfApi(endpoint=hub.endpoint, token=hub.bob)
    head = api.repo_info(bob_repo).sha
    response = commit_lfs(hub, bob_repo, hub.bob, secret.oid)
    assert response.status_code == 400
    assert f"LFS object {secret.oid} was not uploaded" in response.headers["x-error-message"]
    assert api.repo_info(bob_repo).sha == head
    resolve = httpx.get(f"{hub.endpoint}/{bob_repo}/resolve/main/w.bin", headers=_auth(hub.bob))
    assert resolve.status_code == 404


def test_the_upload_api_reveals_nothing_and_asks_for_the_bytes(hub: Hub, secret: Secret) -> None:
    # carol, in a private repo of hers: once a repo that bob can read names the file, bob may
    # name it too (the other tests play bob).
    api = HfApi(endpoint=hub.endpoint, token=hub.carol)
    repo_id = api.create_repo(f"carol/{unique('proof')}", private=True).repo_id
    item = _batch(hub, repo_id, hub.carol, "upload", secret.oid, len(secret.data))
    # "Already stored" would tell carol that someone holds these bytes: she must send them.
    upload = item["actions"]["upload"]["href"]
    forged = httpx.put(upload, content=os.urandom(len(secret.data)))
    assert forged.status_code == 400
    assert commit_lfs(hub, repo_id, hub.carol, secret.oid).status_code == 400
    # Someone who does hold the bytes proves it by sending them, and may then use them.
    assert httpx.put(upload, content=secret.data).status_code == 200
    assert commit_lfs(hub, repo_id, hub.carol, secret.oid).status_code == 200
    url = f"{hub.endpoint}/{repo_id}/resolve/main/w.bin"
    assert httpx.get(url, headers=_auth(hub.carol)).content == secret.data


def test_a_pushed_pointer_to_an_unheld_file_is_refused(
    hub: Hub, secret: Secret, bob_repo: str, tmp_path: Path
) -> None:
    token_url = hub.endpoint.replace("http://", f"http://bob:{hub.bob}@")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "HOME": str(tmp_path)}
    work = tmp_path / "work"

    def git(*args: str, cwd: Path = work) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)

    assert git("clone", f"{token_url}/{bob_repo}", str(work), cwd=tmp_path).returncode == 0
    pointer = "version https://git-lfs.github.com/spec/v1\n"
    pointer += f"oid sha256:{secret.oid}\nsize {len(secret.data)}\n"
    (work / "stolen.bin").write_text(pointer)
    git("add", "stolen.bin")
    git("-c", "user.name=bob", "-c", "user.email=bob@example.com", "commit", "-qm", "steal")
    pushed = git("push", "--no-verify", "origin", "main")  # no git-lfs: a raw pointer
    assert pushed.returncode != 0
    assert f"LFS object {secret.oid} was never uploaded" in pushed.stderr


def test_xet_reconstruction_answers_only_for_the_repo_naming_the_file(
    hub: Hub, secret: Secret, bob_repo: str
) -> None:
    tree = httpx.get(
        f"{hub.endpoint}/api/models/{secret.repo_id}/tree/main", headers=_auth(hub.alice)
    ).json()
    xet_hash = next(e.get("xetHash") for e in tree if e["path"] == "weights.bin")
    if secret.kind == "lfs":
        assert xet_hash is None  # Xet clients download a plain LFS object over plain HTTP
        return
    for repo_id, token, status in ((secret.repo_id, hub.alice, 200), (bob_repo, hub.bob, 404)):
        grant = httpx.get(
            f"{hub.endpoint}/api/models/{repo_id}/xet-read-token/main", headers=_auth(token)
        ).json()
        answer = httpx.get(
            f"{grant['casUrl']}/v1/reconstructions/{xet_hash}",
            headers=_auth(grant["accessToken"]),
        )
        assert answer.status_code == status


def test_files_of_repos_one_can_read_may_be_named_copied_and_duplicated(hub: Hub) -> None:
    alice = HfApi(endpoint=hub.endpoint, token=hub.alice)
    public = alice.create_repo(f"alice/{unique('open')}").repo_id
    data = os.urandom(200_000)
    oid = lfs_upload(hub, public, hub.alice, data)
    assert commit_lfs(hub, public, hub.alice, oid).status_code == 200
    bob = HfApi(endpoint=hub.endpoint, token=hub.bob)
    # A copy between repos bob can read needs no upload (huggingface_hub's cross-repo copy).
    mine = bob.create_repo(f"bob/{unique('copy')}").repo_id
    assert _batch(hub, mine, hub.bob, "upload", oid, len(data)).get("actions") is None
    assert commit_lfs(hub, mine, hub.bob, oid).status_code == 200
    duplicated = bob.duplicate_repo(public, f"bob/{unique('dup')}", private=True).repo_id
    for repo_id, token in ((mine, None), (duplicated, hub.bob)):
        item = _batch(hub, repo_id, token, "download", oid, len(data))
        assert httpx.get(item["actions"]["download"]["href"]).content == data


def test_a_pull_request_file_is_read_through_its_repo_only(hub: Hub, bob_repo: str) -> None:
    alice = HfApi(endpoint=hub.endpoint, token=hub.alice)
    public = alice.create_repo(f"alice/{unique('pr')}").repo_id
    data = os.urandom(150_000)
    oid = lfs_upload(hub, public, hub.bob, data)
    # bob may not write to alice's repo: his upload is his to read until a PR commits it.
    assert _batch(hub, public, None, "download", oid, len(data))["error"]["code"] == 404
    response = httpx.post(
        f"{hub.endpoint}/api/models/{public}/commit/main?create_pr=1",
        content=b"\n".join(
            json.dumps(line).encode()
            for line in (
                {"key": "header", "value": {"summary": "weights", "description": ""}},
                {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid}},
            )
        ),
        headers={**_auth(hub.bob), "content-type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    item = _batch(hub, public, None, "download", oid, len(data))
    assert httpx.get(item["actions"]["download"]["href"]).content == data
    assert _batch(hub, bob_repo, hub.bob, "download", oid, len(data))["error"]["code"] == 404


@pytest.mark.parametrize("size", [10**14, 10**15])
def test_an_oversized_upload_is_refused_before_anything_is_planned(
    hub: Hub, bob_repo: str, size: int
) -> None:
    started = time.perf_counter()
    response = httpx.post(
        f"{hub.endpoint}/{bob_repo}.git/info/lfs/objects/batch",
        json={
            "operation": "upload",
            "transfers": ["basic", "multipart"],
            "objects": [{"oid": "a" * 64, "size": size}],
        },
        headers={**_auth(hub.bob), "content-type": LFS_JSON},
    )
    assert response.status_code == 200
    error = response.json()["objects"][0]["error"]
    assert error["code"] == 422
    assert "over the limit of 50000000000 per file" in error["message"]
    # Planning 10^14 bytes in parts took tens of seconds and hundreds of MB, stalling the hub.
    assert time.perf_counter() - started < 5


def test_a_signed_verify_url_names_its_uploader_only(hub: Hub, bob_repo: str) -> None:
    data = os.urandom(1000)
    oid = hashlib.sha256(data).hexdigest()
    actions = _batch(hub, bob_repo, hub.bob, "upload", oid, len(data))["actions"]
    assert httpx.put(actions["upload"]["href"], content=data).status_code == 200
    verify = actions["verify"]["href"]
    user = re.search(r"[?&]user=(\d+)", verify)
    assert user is not None
    forged = verify.replace(f"user={user[1]}", f"user={int(user[1]) + 1}")
    assert httpx.post(forged, json={"oid": oid, "size": len(data)}).status_code == 403
    unsigned = verify.split("?", 1)[0]
    refused = httpx.post(unsigned, json={"oid": oid, "size": len(data)})
    assert refused.status_code == 400 and refused.headers["x-error-message"]
    assert httpx.post(verify, json={"oid": oid, "size": len(data)}).status_code == 200
