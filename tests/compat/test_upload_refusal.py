"""A user who may not write to a repo is refused at preupload, before any byte travels.

huggingface_hub asks `preupload` first and only then sends large files (through Xet, or the LFS
batch API with `HF_HUB_DISABLE_XET=1`): a refusal there must come as HF's 403, and leave no
blob or xorb behind. A pull request (`create_pr=1`) stays open to any reader with a write token.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from support import Hub, unique

pytestmark = pytest.mark.compat

REFUSAL = "You don't have the rights to write to"


@pytest.fixture
def repo_id(hub: Hub) -> str:
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = api.create_repo(f"alice/{unique('refusal')}").repo_id
    api.upload_file(path_or_fileobj=b"v1", path_in_repo="a.txt", repo_id=repo_id)
    return repo_id


def stored(hub: Hub) -> set[Path]:
    """Every object file the hub keeps for large files: LFS blobs and Xet xorbs and shards."""
    roots = (hub.data_dir / "lfs", hub.data_dir / "xet")
    return {path for root in roots if root.exists() for path in root.rglob("*") if path.is_file()}


def test_non_writer_is_refused_before_sending_bytes(hub: Hub, repo_id: str) -> None:
    before = stored(hub)
    api = HfApi(endpoint=hub.endpoint, token=hub.bob)
    with pytest.raises(HfHubHTTPError) as refused:
        api.upload_file(path_or_fileobj=os.urandom(300_000), path_in_repo="w.bin", repo_id=repo_id)
    assert refused.value.response is not None
    assert refused.value.response.status_code == 403
    assert REFUSAL in str(refused.value)
    assert "create_pr=1" in str(refused.value)
    assert stored(hub) == before
    files = HfApi(endpoint=hub.endpoint).list_repo_files(repo_id)
    assert sorted(files) == [".gitattributes", "a.txt"]


def test_non_writer_may_still_open_a_pull_request(hub: Hub, repo_id: str) -> None:
    api = HfApi(endpoint=hub.endpoint, token=hub.bob)
    data = os.urandom(300_000)
    info = api.upload_file(
        path_or_fileobj=data, path_in_repo="w.bin", repo_id=repo_id, create_pr=True
    )
    assert info.pr_revision == "refs/pr/1"
    owner = HfApi(endpoint=hub.endpoint, token=hub.alice)
    files = owner.list_repo_files(repo_id, revision="refs/pr/1")
    assert "w.bin" in files


def test_read_token_is_refused_even_for_a_pull_request(hub: Hub, repo_id: str) -> None:
    before = stored(hub)
    api = HfApi(endpoint=hub.endpoint, token=hub.alice_read)
    for create_pr in (False, True):
        with pytest.raises(HfHubHTTPError) as refused:
            api.upload_file(
                path_or_fileobj=os.urandom(300_000),
                path_in_repo="w.bin",
                repo_id=repo_id,
                create_pr=create_pr,
            )
        assert refused.value.response is not None
        assert refused.value.response.status_code == 403
        assert "read token" in str(refused.value)
    assert stored(hub) == before


def test_anonymous_preupload_asks_for_a_token(hub: Hub, repo_id: str) -> None:
    response = httpx.post(
        f"{hub.endpoint}/api/models/{repo_id}/preupload/main",
        json={"files": [{"path": "w.bin", "size": 5, "sample": ""}]},
    )
    assert response.status_code == 401, response.text
    assert response.headers["x-error-message"]


CLIENT = textwrap.dedent(
    """
    import json, os, sys
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import HfHubHTTPError

    api, repo = HfApi(), sys.argv[1]
    try:
        api.upload_file(path_or_fileobj=os.urandom(300_000), path_in_repo="w.bin", repo_id=repo)
        refused = None
    except HfHubHTTPError as exc:
        refused = [exc.response.status_code, str(exc)]
    pr = api.upload_file(
        path_or_fileobj=os.urandom(300_000), path_in_repo="w.bin", repo_id=repo, create_pr=True
    )
    print(json.dumps({"xet_disabled": constants.HF_HUB_DISABLE_XET, "refused": refused,
                      "pr": pr.pr_revision}))
    """
)


def test_lfs_client_is_refused_before_sending_bytes(hub: Hub, repo_id: str, tmp_path: Path) -> None:
    before = stored(hub)
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.endpoint,
        "HF_TOKEN": hub.bob,
        "HF_HOME": str(tmp_path),
        "HF_HUB_DISABLE_XET": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", CLIENT, repo_id],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["xet_disabled"] is True
    status, message = report["refused"]
    assert status == 403
    assert REFUSAL in message
    assert report["pr"] == "refs/pr/1"
    # Only the pull request's blob arrived, through the LFS store.
    added = stored(hub) - before
    assert len(added) == 1
    assert next(iter(added)).is_relative_to(hub.data_dir / "lfs")
