"""Token roles, as huggingface_hub and git see them: a read token reads and changes nothing.

A read token of the repo's own owner is refused every write (commits, pull requests,
discussions, uploads, refs, settings, repo lifecycle, space settings, git push) with a 403 that
names the token's role, and the hub is left as it was; a write token of a user who may only
read the repo still opens pull requests and discussions.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError

from support import Hub, unique

pytestmark = pytest.mark.compat


@pytest.fixture
def repo_id(hub: Hub) -> str:
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = api.create_repo(f"alice/{unique('roles')}").repo_id
    api.upload_file(path_or_fileobj=b"v1", path_in_repo="a.txt", repo_id=repo_id)
    api.create_branch(repo_id, branch="dev")
    api.create_tag(repo_id, tag="v1")
    return repo_id


def state(api: HfApi, repo_id: str) -> dict[str, Any]:
    """What any write would change: refs (PR refs included), discussions, settings, files."""
    refs = api.list_repo_refs(repo_id, include_pull_requests=True)
    return {
        "refs": sorted((r.ref, r.target_commit) for r in [*refs.branches, *refs.tags]),
        "prs": refs.pull_requests,
        "discussions": [d.num for d in api.get_repo_discussions(repo_id)],
        "info": (api.model_info(repo_id).private, api.model_info(repo_id).gated),
        "files": sorted(api.list_repo_files(repo_id)),
        "repos": sorted(m.id for m in api.list_models(author="alice")),
    }


def refused(call: Callable[[], object]) -> str:
    """The 403's message; hf_xet asks for its write token itself, and reports a 403 as a
    ConnectionError that names only the status."""
    with pytest.raises((HfHubHTTPError, ConnectionError)) as error:
        call()
    if not isinstance(error.value, HfHubHTTPError):
        assert "403 Forbidden" in str(error.value) and "xet-write-token" in str(error.value)
        return "read token"
    response = error.value.response
    assert response.status_code == 403, (response.status_code, response.text)
    return str(response.headers.get("x-error-message", ""))


def read_token_writes(reader: HfApi, repo_id: str) -> list[Callable[[], object]]:
    add = [CommitOperationAdd("b.txt", b"b")]
    return [
        lambda: reader.create_commit(repo_id, add, commit_message="x"),
        lambda: reader.create_commit(repo_id, add, commit_message="x", create_pr=True),
        lambda: reader.upload_file(
            path_or_fileobj=os.urandom(2048), path_in_repo="w.safetensors", repo_id=repo_id
        ),
        lambda: reader.upload_file(
            path_or_fileobj=os.urandom(2048), path_in_repo="w.bin", repo_id=repo_id, create_pr=True
        ),
        lambda: reader.create_discussion(repo_id, "from a read token"),
        lambda: reader.create_pull_request(repo_id, "from a read token"),
        lambda: reader.create_branch(repo_id, branch="new"),
        lambda: reader.delete_branch(repo_id, branch="dev"),
        lambda: reader.create_tag(repo_id, tag="v2"),
        lambda: reader.delete_tag(repo_id, tag="v1"),
        lambda: reader.update_repo_settings(repo_id, private=True),
        lambda: reader.update_repo_settings(repo_id, gated="auto"),
        lambda: reader.move_repo(repo_id, f"alice/{unique('moved')}"),
        lambda: reader.delete_repo(repo_id),
        lambda: reader.create_repo(f"alice/{unique()}"),
        lambda: reader.duplicate_repo(repo_id, f"alice/{unique('copy')}"),
    ]


def test_read_token_changes_nothing(hub: Hub, repo_id: str) -> None:
    owner = HfApi(endpoint=hub.endpoint, token=hub.alice)
    reader = HfApi(endpoint=hub.endpoint, token=hub.alice_read)
    before = state(owner, repo_id)
    for write in read_token_writes(reader, repo_id):
        assert "read token" in refused(write)
    assert state(owner, repo_id) == before


def test_read_token_gets_no_upload_urls(hub: Hub, repo_id: str) -> None:
    headers = {"authorization": f"Bearer {hub.alice_read}"}
    batch = httpx.post(
        f"{hub.endpoint}/{repo_id}.git/info/lfs/objects/batch",
        json={"operation": "upload", "objects": [{"oid": "a" * 64, "size": 5}]},
        headers=headers,
    )
    assert batch.status_code == 403, batch.text
    for create_pr in ("0", "1"):
        xet = httpx.get(
            f"{hub.endpoint}/api/models/{repo_id}/xet-write-token/main",
            params={"create_pr": create_pr},
            headers=headers,
        )
        assert xet.status_code == 403, xet.text
    # preupload is the first step of every upload: a read token is refused there already.
    for create_pr in ("0", "1"):
        preupload = httpx.post(
            f"{hub.endpoint}/api/models/{repo_id}/preupload/main",
            params={"create_pr": create_pr},
            json={"files": [{"path": "c.txt", "sample": "", "size": 1}]},
            headers=headers,
        )
        assert preupload.status_code == 403, preupload.text


def test_read_token_cannot_change_a_space(hub: Hub) -> None:
    owner = HfApi(endpoint=hub.endpoint, token=hub.alice)
    space = owner.create_repo(f"alice/{unique('space')}", repo_type="space", space_sdk="static")
    reader = HfApi(endpoint=hub.endpoint, token=hub.alice_read)
    for write in (
        lambda: reader.add_space_secret(space.repo_id, "KEY", "value"),
        lambda: reader.add_space_variable(space.repo_id, "KEY", "value"),
        lambda: reader.restart_space(space.repo_id),
        lambda: reader.pause_space(space.repo_id),
    ):
        refused(write)
    assert owner.get_space_variables(space.repo_id) == {}


def test_read_token_cannot_git_push(hub: Hub, repo_id: str, tmp_path: Path) -> None:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1",
           "HOME": str(tmp_path)}  # fmt: skip
    host = hub.endpoint.removeprefix("http://")
    url = f"http://user:{hub.alice_read}@{host}/{repo_id}"
    work = tmp_path / "clone"

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-c", "user.name=a", "-c", "user.email=a@b", *args],
            cwd=work if work.exists() else tmp_path, env=env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip

    assert git("clone", "-q", url, str(work)).returncode == 0  # reading is allowed
    (work / "pushed.txt").write_text("x")
    assert git("add", "pushed.txt").returncode == 0
    assert git("commit", "-qm", "push").returncode == 0
    pushed = git("push", "origin", "HEAD:main", "HEAD:refs/heads/other")
    assert pushed.returncode != 0
    assert "403" in pushed.stderr, pushed.stderr
    refs = HfApi(endpoint=hub.endpoint, token=hub.alice).list_repo_refs(repo_id)
    assert sorted(b.name for b in refs.branches) == ["dev", "main"]


def test_write_token_of_a_reader_opens_prs_and_discussions(hub: Hub, repo_id: str) -> None:
    bob = HfApi(endpoint=hub.endpoint, token=hub.bob)  # may read alice's repo, not write it
    add = [CommitOperationAdd("b.txt", b"b")]
    refused(lambda: bob.create_commit(repo_id, add, commit_message="x"))
    discussion = bob.create_discussion(repo_id, "a question")
    pr = bob.create_pull_request(repo_id, "a proposal")
    commit = bob.create_commit(
        repo_id, [CommitOperationAdd("b.txt", b"b")], commit_message="via PR", create_pr=True
    )
    assert [discussion.num, pr.num, commit.pr_num] == [1, 2, 3]
    nums = [d.num for d in bob.get_repo_discussions(repo_id)]
    assert sorted(nums) == [1, 2, 3]
    owner = HfApi(endpoint=hub.endpoint, token=hub.alice)
    assert owner.upload_file(path_or_fileobj=b"v2", path_in_repo="a.txt", repo_id=repo_id).oid
