"""Storage quotas and accounting with the stock clients against a live hub with quotas set.

A private repo's owner may hold 200 kB, a public one's 2 MB here. huggingface_hub asks
`preupload` before sending any byte (regular files inline, large ones through Xet, or the LFS
batch API without hf_xet): an upload over the quota must be refused there with HF's 403 text and
leave nothing stored. What repos hold shows in `usedStorage`, `list_user_repos` (`hf repos ls`)
and the storage page, and goes down once large files are deleted (`permanently_delete_lfs_files`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from support import create_token, run_cli, running_hub, unique

pytestmark = pytest.mark.compat

PRIVATE_QUOTA, PUBLIC_QUOTA = 200_000, 2_000_000
FULL = "Private repository storage limit reached, please upgrade your plan..."
HF = Path(sys.executable).with_name("hf")


@dataclass(frozen=True)
class QuotaHub:
    endpoint: str
    data_dir: Path
    alice: str
    alice_read: str
    bob: str


@pytest.fixture(scope="module")
def quota_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuotaHub]:
    data_dir = tmp_path_factory.mktemp("quota-hub")
    for user in ("alice", "bob"):
        assert run_cli(data_dir, "user", "create", user, "--password", f"pw-{user}").returncode == 0
    tokens = {
        "alice": create_token(data_dir, "alice", "write"),
        "alice_read": create_token(data_dir, "alice", "read"),
        "bob": create_token(data_dir, "bob", "write"),
    }
    env = {
        "HUGBOX_STORAGE_QUOTA_PRIVATE": str(PRIVATE_QUOTA),
        "HUGBOX_STORAGE_QUOTA_PUBLIC": str(PUBLIC_QUOTA),
    }
    with running_hub(data_dir, env=env) as endpoint:
        yield QuotaHub(endpoint, data_dir, **tokens)


def stored(hub: QuotaHub) -> set[Path]:
    roots = (hub.data_dir / "lfs", hub.data_dir / "xet")
    return {path for root in roots if root.exists() for path in root.rglob("*") if path.is_file()}


def eventually(check: Callable[[], bool], timeout: float = 20) -> None:
    """Storage is measured by a subscriber after the commit: wait for it."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "storage was not measured in time"
        time.sleep(0.2)


def used(api: HfApi, repo_id: str) -> int:
    return api.model_info(repo_id, expand=["usedStorage"]).used_storage or 0


@pytest.fixture
def private_repo(quota_hub: QuotaHub) -> str:
    api = HfApi(endpoint=quota_hub.endpoint, token=quota_hub.alice)
    return api.create_repo(f"alice/{unique('quota')}", private=True).repo_id


def refused(call: Callable[[], object]) -> HfHubHTTPError:
    with pytest.raises(HfHubHTTPError) as error:
        call()
    assert error.value.response is not None
    assert error.value.response.status_code == 403
    assert FULL in str(error.value)
    return error.value


def test_xet_and_regular_uploads_over_quota_are_refused_at_preupload(
    quota_hub: QuotaHub, private_repo: str
) -> None:
    api = HfApi(endpoint=quota_hub.endpoint, token=quota_hub.alice)
    before = stored(quota_hub)
    big = os.urandom(PRIVATE_QUOTA + 1)
    repo_id = private_repo
    refused(lambda: api.upload_file(path_or_fileobj=big, path_in_repo="w.bin", repo_id=repo_id))
    # A regular (git-stored) file counts as much as a large one.
    text = b"x" * (PRIVATE_QUOTA + 1)
    refused(lambda: api.upload_file(path_or_fileobj=text, path_in_repo="a.txt", repo_id=repo_id))
    assert stored(quota_hub) == before
    assert api.list_repo_files(private_repo) == [".gitattributes"]


LFS_UPLOAD = textwrap.dedent("""
    import os, sys
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError
    api = HfApi(endpoint=sys.argv[1], token=sys.argv[2])
    try:
        api.upload_file(path_or_fileobj=os.urandom(int(sys.argv[4])), path_in_repo="w.bin",
                        repo_id=sys.argv[3])
    except HfHubHTTPError as error:
        print(error.response.status_code, str(error))
    else:
        print("uploaded")
""")


def test_lfs_upload_over_quota_is_refused(quota_hub: QuotaHub, private_repo: str) -> None:
    """Without hf_xet the client goes through the LFS batch API after preupload."""
    before = stored(quota_hub)
    env = {**os.environ, "HF_HUB_DISABLE_XET": "1"}
    args = [quota_hub.endpoint, quota_hub.alice, private_repo, str(PRIVATE_QUOTA + 1)]
    done = subprocess.run(
        [sys.executable, "-c", LFS_UPLOAD, *args], env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    assert done.stdout.startswith("403"), done.stdout + done.stderr
    assert FULL in done.stdout
    assert stored(quota_hub) == before


def test_lfs_batch_refuses_with_hf_error_headers(quota_hub: QuotaHub, private_repo: str) -> None:
    """git-lfs asks the batch API directly (a `git push`): refused there too."""
    body = {"operation": "upload", "transfers": ["basic"],
            "objects": [{"oid": "a" * 64, "size": PRIVATE_QUOTA + 1}]}  # fmt: skip
    response = httpx.post(
        f"{quota_hub.endpoint}/{private_repo}.git/info/lfs/objects/batch",
        json=body, auth=("alice", quota_hub.alice),
        headers={"Accept": "application/vnd.git-lfs+json"},
    )  # fmt: skip
    assert response.status_code == 403
    assert response.headers["X-Error-Message"] == FULL


def test_usage_counts_and_goes_down_after_lfs_files_are_deleted(
    quota_hub: QuotaHub, private_repo: str
) -> None:
    api = HfApi(endpoint=quota_hub.endpoint, token=quota_hub.alice)
    data = os.urandom(120_000)
    api.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=private_repo)
    eventually(lambda: used(api, private_repo) >= len(data))
    # 120 kB held: 100 kB more would pass the 200 kB quota.
    refused(
        lambda: api.upload_file(
            path_or_fileobj=os.urandom(100_000), path_in_repo="x.bin", repo_id=private_repo
        )
    )
    # Deleting the file in a commit frees nothing: history still holds it.
    api.delete_file("w.bin", repo_id=private_repo)
    time.sleep(1)
    assert used(api, private_repo) >= len(data)
    files = list(api.list_lfs_files(private_repo))
    assert [(f.filename, f.size) for f in files] == [("w.bin", len(data))]
    api.permanently_delete_lfs_files(private_repo, files)
    eventually(lambda: used(api, private_repo) < len(data))
    assert list(api.list_lfs_files(private_repo)) == []
    api.upload_file(path_or_fileobj=os.urandom(100_000), path_in_repo="x.bin", repo_id=private_repo)
    listed = {r.id: r for r in api.list_user_repos()}
    eventually(lambda: {r.id: r for r in api.list_user_repos()}[private_repo].storage >= 100_000)
    assert listed[private_repo].visibility == "private"


def test_public_repos_have_their_own_quota(quota_hub: QuotaHub, private_repo: str) -> None:
    api = HfApi(endpoint=quota_hub.endpoint, token=quota_hub.alice)
    public = api.create_repo(f"alice/{unique('public')}").repo_id
    api.upload_file(path_or_fileobj=os.urandom(300_000), path_in_repo="w.bin", repo_id=public)
    eventually(lambda: used(api, public) >= 300_000)  # measured after the commit's event
    with pytest.raises(HfHubHTTPError) as error:
        api.upload_file(
            path_or_fileobj=os.urandom(PUBLIC_QUOTA), path_in_repo="y.bin", repo_id=public
        )
    assert error.value.response.status_code == 403
    assert "Public repository storage limit reached" in str(error.value)


def test_hf_repos_ls_shows_storage(quota_hub: QuotaHub) -> None:
    api = HfApi(endpoint=quota_hub.endpoint, token=quota_hub.alice)
    repo_id = api.create_repo(f"alice/{unique('ls')}").repo_id
    api.upload_file(path_or_fileobj=os.urandom(50_000), path_in_repo="w.bin", repo_id=repo_id)
    eventually(lambda: used(api, repo_id) >= 50_000)
    env = {**os.environ, "HF_ENDPOINT": quota_hub.endpoint, "HF_TOKEN": quota_hub.alice,
           "NO_COLOR": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1"}  # fmt: skip
    done = subprocess.run(
        [str(HF), "repos", "ls", "--search", repo_id.split("/")[1], "--format", "json"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    [row] = json.loads(done.stdout)
    assert row["id"] == repo_id
    assert row["storage"].endswith("kB") or row["storage"].endswith("KB"), row


def test_lfs_files_are_their_owners_business(quota_hub: QuotaHub, private_repo: str) -> None:
    public = (
        HfApi(endpoint=quota_hub.endpoint, token=quota_hub.alice)
        .create_repo(f"alice/{unique('owned')}")
        .repo_id
    )
    base = f"{quota_hub.endpoint}/api/models"
    batch = {"deletions": {"sha": ["a" * 64], "rewriteHistory": True}}
    for repo_id, token, status in [
        (public, None, 403),  # anonymous (as every write route of the hub answers it)
        (public, quota_hub.bob, 403),  # another user
        (private_repo, quota_hub.bob, 404),  # another user, a repo they cannot see
        (public, quota_hub.alice_read, 403),  # a read token
    ]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        listed = httpx.get(f"{base}/{repo_id}/lfs-files", headers=headers)
        deleted = httpx.post(f"{base}/{repo_id}/lfs-files/batch", headers=headers, json=batch)
        for response in (listed, deleted):
            assert response.status_code == status, (repo_id, token, response.text)
            assert response.headers.get("X-Error-Message")
    owner = {"Authorization": f"Bearer {quota_hub.alice}"}
    for bad in ({"deletions": {"sha": ["nope"]}}, {"deletions": "x"}, [1]):
        response = httpx.post(f"{base}/{public}/lfs-files/batch", headers=owner, json=bad)
        assert response.status_code in (400, 422), response.text
