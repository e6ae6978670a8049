"""Plain `git` and `git-lfs` against a live hugbox: clone, fetch and push on the API's history."""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download

from support import Hub, add_legacy_alias, unique

pytestmark = pytest.mark.compat

WEIGHTS = os.urandom(300_000)  # *.safetensors: LFS by the default .gitattributes


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    """A HOME of its own: identity, git-lfs filters, no prompts, no system config."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_ASKPASS": "",
    }
    for key, value in (("user.name", "Alice"), ("user.email", "alice@example.com")):
        run(["git", "config", "--global", key, value], env=env)
    run(["git", "lfs", "install", "--skip-repo"], env=env)
    return env


def run(
    args: list[str], *, env: dict[str, str], cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if check:
        assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def url(hub: Hub, path: str, token: str | None = None) -> str:
    host = hub.endpoint.removeprefix("http://")
    return f"http://user:{token}@{host}/{path}" if token else f"http://{host}/{path}"


def clone(
    hub: Hub, path: str, dest: Path, env: dict[str, str], token: str | None = None, *extra: str
) -> subprocess.CompletedProcess[str]:
    return run(["git", "clone", *extra, url(hub, path, token), str(dest)], env=env, check=False)


def git(repo: Path, *args: str, env: dict[str, str], check: bool = True) -> str:
    return run(["git", *args], cwd=repo, env=env, check=check).stdout.strip()


def commit_file(repo: Path, path: str, data: bytes, env: dict[str, str], message: str) -> str:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    git(repo, "add", path, env=env)
    git(repo, "commit", "-q", "-m", message, env=env)
    return git(repo, "rev-parse", "HEAD", env=env)


def push(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run(["git", "push", "origin", *args], cwd=repo, env=env, check=False)


@pytest.fixture
def api(hub: Hub) -> HfApi:
    return HfApi(endpoint=hub.endpoint, token=hub.alice)


def filled_repo(api: HfApi, *, private: bool = False, repo_type: str = "model") -> str:
    extra = {"space_sdk": "static"} if repo_type == "space" else {}
    repo_id = api.create_repo(
        f"alice/{unique()}", private=private, repo_type=repo_type, **extra
    ).repo_id
    api.upload_file(
        path_or_fileobj=WEIGHTS,
        path_in_repo="model.safetensors",
        repo_id=repo_id,
        repo_type=repo_type,
    )
    api.upload_file(
        path_or_fileobj=b"hello\n", path_in_repo="notes.txt", repo_id=repo_id, repo_type=repo_type
    )
    return repo_id


# --- clone --------------------------------------------------------------------------------


def test_anonymous_clone_of_a_public_repo_has_the_api_history(
    hub: Hub, api: HfApi, git_env: dict[str, str], tmp_path: Path
) -> None:
    repo_id = filled_repo(api)
    for suffix in ("", ".git"):
        dest = tmp_path / f"clone{suffix}"
        assert clone(hub, repo_id + suffix, dest, git_env).returncode == 0
        assert (dest / "model.safetensors").read_bytes() == WEIGHTS  # smudged by git-lfs
        assert (dest / "notes.txt").read_bytes() == b"hello\n"
        assert git(dest, "rev-parse", "HEAD", env=git_env) == api.model_info(repo_id).sha
        api_commits = [c.commit_id for c in api.list_repo_commits(repo_id)]
        assert git(dest, "log", "--format=%H", env=git_env).split() == api_commits


@pytest.mark.parametrize("repo_type", ["dataset", "space"])
def test_clone_of_datasets_and_spaces_under_their_prefix(
    hub: Hub, api: HfApi, git_env: dict[str, str], tmp_path: Path, repo_type: str
) -> None:
    repo_id = filled_repo(api, repo_type=repo_type)
    for suffix in ("", ".git"):
        dest = tmp_path / f"clone{suffix}"
        assert clone(hub, f"{repo_type}s/{repo_id}{suffix}", dest, git_env).returncode == 0
        assert (dest / "model.safetensors").read_bytes() == WEIGHTS


def test_clone_by_legacy_id(hub: Hub, api: HfApi, git_env: dict[str, str], tmp_path: Path) -> None:
    repo_id = api.create_repo(f"acme/{unique()}").repo_id
    api.upload_file(path_or_fileobj=WEIGHTS, path_in_repo="model.safetensors", repo_id=repo_id)
    alias = unique("legacy")
    add_legacy_alias(hub.data_dir, repo_id, alias)
    deadline = time.monotonic() + 10  # the server reloads its legacy ids every few seconds
    while clone(hub, f"{alias}.git", tmp_path / "legacy", git_env).returncode != 0:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert (tmp_path / "legacy" / "model.safetensors").read_bytes() == WEIGHTS


def test_private_repo_needs_a_token_with_access(
    hub: Hub, api: HfApi, git_env: dict[str, str], tmp_path: Path
) -> None:
    repo_id = filled_repo(api, private=True)
    anonymous = clone(hub, repo_id, tmp_path / "anon", git_env)
    assert anonymous.returncode != 0
    assert "could not read Username" in anonymous.stderr  # git was asked for credentials
    wrong = clone(hub, repo_id, tmp_path / "wrong", git_env, "hf_wrong")
    assert "Authentication failed" in wrong.stderr
    outsider = clone(hub, repo_id, tmp_path / "bob", git_env, hub.bob)
    assert outsider.returncode != 0
    assert "not found" in outsider.stderr
    assert clone(hub, repo_id, tmp_path / "ok", git_env, hub.alice).returncode == 0
    assert (tmp_path / "ok" / "model.safetensors").read_bytes() == WEIGHTS


def test_git_asks_for_basic_credentials(hub: Hub, api: HfApi) -> None:
    repo_id = filled_repo(api, private=True)
    refs = f"{hub.endpoint}/{repo_id}.git/info/refs?service=git-upload-pack"
    response = httpx.get(refs)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert httpx.get(refs, auth=("anything", hub.alice)).status_code == 200
    public = filled_repo(api)
    push_refs = f"{hub.endpoint}/{public}/info/refs?service=git-receive-pack"
    assert httpx.get(push_refs).status_code == 401  # even public repos: pushes need a token
    ok = httpx.get(push_refs, auth=("x", hub.alice))
    assert ok.headers["content-type"] == "application/x-git-receive-pack-advertisement"
    assert ok.content.startswith(b"001f# service=git-receive-pack\n0000")


def test_protocol_v2_and_v0_and_a_shallow_clone(
    hub: Hub, api: HfApi, git_env: dict[str, str], tmp_path: Path
) -> None:
    repo_id = filled_repo(api)
    v2 = clone(hub, repo_id, tmp_path / "v2", {**git_env, "GIT_TRACE_PACKET": "1"})
    assert "clone< version 2" in v2.stderr
    v0 = clone(hub, repo_id, tmp_path / "v0", git_env, None, "-c", "protocol.version=0")
    assert v0.returncode == 0
    shallow = tmp_path / "shallow"
    assert clone(hub, repo_id, shallow, git_env, None, "--depth", "1").returncode == 0
    assert git(shallow, "rev-list", "--count", "HEAD", env=git_env) == "1"
    assert git(shallow, "rev-parse", "HEAD", env=git_env) == api.model_info(repo_id).sha


def test_gzipped_upload_pack_request(hub: Hub, api: HfApi) -> None:
    repo_id = filled_repo(api)
    sha = api.model_info(repo_id).sha
    request = f"0032want {sha}\n".encode() + b"00000009done\n"
    response = httpx.post(
        f"{hub.endpoint}/{repo_id}/git-upload-pack",
        content=gzip.compress(request),
        headers={
            "content-type": "application/x-git-upload-pack-request",
            "content-encoding": "gzip",
        },
    )
    assert response.status_code == 200
    assert response.content.startswith(b"0008NAK\nPACK")


# --- push ---------------------------------------------------------------------------------


def test_push_branch_tag_and_lfs_file_seen_by_the_api(
    hub: Hub, api: HfApi, git_env: dict[str, str], tmp_path: Path
) -> None:
    repo_id = api.create_repo(f"alice/{unique()}").repo_id
    work = tmp_path / "work"
    assert clone(hub, repo_id, work, git_env, hub.alice).returncode == 0
    git(work, "lfs", "install", "--local", env=git_env)
    readme = b"---\nlicense: mit\ntags: [pushed]\n---\n# Pushed\n"
    commit_file(work, "README.md", readme, git_env, "card")
    weights = os.urandom(500_000)
    head = commit_file(work, "weights/model.safetensors", weights, git_env, "weights")
    assert push(work, "main", env=git_env).returncode == 0
    info = api.model_info(repo_id)
    assert info.sha == head
    assert info.card_data is not None and info.card_data["license"] == "mit"
    assert "pushed" in (info.tags or [])
    assert info.last_modified is not None
    local = hf_hub_download(repo_id, "weights/model.safetensors", cache_dir=tmp_path / "hf")
    assert Path(local).read_bytes() == weights
    sha256 = hashlib.sha256(weights).hexdigest()
    store = hub.data_dir / "lfs" / sha256[:2] / sha256[2:4] / sha256
    assert store.read_bytes() == weights  # the API's blob store, once
    # a new branch and a tag, then the branch deleted again
    side = commit_file(work, "side.txt", b"side\n", git_env, "side")
    assert push(work, "HEAD:refs/heads/side", "HEAD:refs/tags/v1", env=git_env).returncode == 0
    refs = api.list_repo_refs(repo_id)
    assert {b.name: b.target_commit for b in refs.branches}["side"] == side
    assert {t.name: t.target_commit for t in refs.tags}["v1"] == side
    assert push(work, ":side", env=git_env).returncode == 0
    assert [b.name for b in api.list_repo_refs(repo_id).branches] == ["main"]


def test_push_needs_write_rights(
    hub: Hub, api: HfApi, git_env: dict[str, str], tmp_path: Path
) -> None:
    carol = HfApi(endpoint=hub.endpoint, token=hub.carol)
    repo_id = carol.create_repo(f"acme/{unique()}").repo_id
    refusals = [(None, "could not read Username"), (hub.bob, "403"), (hub.alice_read, "403")]
    for token, expected in refusals:
        work = tmp_path / f"work-{token}"
        assert clone(hub, repo_id, work, git_env, token).returncode == 0
        commit_file(work, "x.txt", b"x\n", git_env, "x")
        refused = push(work, "main", env=git_env)
        assert refused.returncode != 0
        assert expected in refused.stderr
    assert [f for f in carol.list_repo_files(repo_id) if f == "x.txt"] == []


def test_pushes_that_would_break_the_repo_are_refused_with_a_message(
    hub: Hub, api: HfApi, git_env: dict[str, str], tmp_path: Path
) -> None:
    repo_id = filled_repo(api)
    before = api.model_info(repo_id).sha
    work = tmp_path / "work"
    assert clone(hub, repo_id, work, git_env, hub.alice).returncode == 0
    refusals = {
        ":main": "Cannot delete refs/heads/main",
        "HEAD:refs/pr/1": "refs/pr/* and refs/convert/* are written by the hub",
        "HEAD:refs/convert/parquet": "refs/pr/* and refs/convert/* are written by the hub",
        "HEAD:refs/notes/x": "only branches (refs/heads/*) and tags",
    }
    for refspec, message in refusals.items():
        refused = push(work, refspec, env=git_env)
        assert refused.returncode != 0 and "remote: hugbox: " in refused.stderr
        assert message in refused.stderr
    commit_file(work, "big.dat", os.urandom(11 * 1024 * 1024), git_env, "big, not LFS")
    refused = push(work, "main", env=git_env)
    assert "remote: hugbox: big.dat: 11534336 bytes, over the limit" in refused.stderr
    git(work, "reset", "-q", "--hard", "HEAD~1", env=git_env)
    # a pointer whose object never reached the hub (git-lfs's pre-push hook skipped)
    oid = hashlib.sha256(b"never uploaded").hexdigest()
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 14\n"
    commit_file(work, "lost.txt", pointer.encode(), git_env, "dangling pointer")
    refused = push(work, "--no-verify", "main", env=git_env)
    assert f"remote: hugbox: lost.txt: LFS object {oid} was never uploaded" in refused.stderr
    assert api.model_info(repo_id).sha == before


def test_force_push_rules(hub: Hub, api: HfApi, git_env: dict[str, str], tmp_path: Path) -> None:
    repo_id = filled_repo(api)
    work = tmp_path / "work"
    assert clone(hub, repo_id, work, git_env, hub.alice).returncode == 0
    api.upload_file(path_or_fileobj=b"api\n", path_in_repo="api.txt", repo_id=repo_id)
    mine = commit_file(work, "mine.txt", b"mine\n", git_env, "mine")
    stale = push(work, "main", env=git_env)
    assert stale.returncode != 0 and "rejected" in stale.stderr  # not a fast-forward
    assert "api.txt" in api.list_repo_files(repo_id)
    forced = push(work, "--force", "main", env=git_env)
    assert forced.returncode == 0, forced.stderr
    assert api.model_info(repo_id).sha == mine


def test_api_commit_then_pull(
    hub: Hub, api: HfApi, git_env: dict[str, str], tmp_path: Path
) -> None:
    repo_id = filled_repo(api)
    work = tmp_path / "work"
    assert clone(hub, repo_id, work, git_env).returncode == 0
    info = api.upload_file(path_or_fileobj=b"new\n", path_in_repo="new.txt", repo_id=repo_id)
    git(work, "pull", "-q", "--ff-only", env=git_env)
    assert (work / "new.txt").read_bytes() == b"new\n"
    assert git(work, "rev-parse", "HEAD", env=git_env) == info.oid


def test_push_of_500_files(hub: Hub, api: HfApi, git_env: dict[str, str], tmp_path: Path) -> None:
    repo_id = api.create_repo(f"alice/{unique()}").repo_id
    work = tmp_path / "work"
    assert clone(hub, repo_id, work, git_env, hub.alice).returncode == 0
    for index in range(500):
        path = work / f"data/{index // 100}/file-{index}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"file {index}\n")
    git(work, "add", ".", env=git_env)
    git(work, "commit", "-q", "-m", "500 files", env=git_env)
    assert push(work, "main", env=git_env).returncode == 0
    files = api.list_repo_files(repo_id)
    assert len([f for f in files if f.startswith("data/")]) == 500


def test_parallel_pushes_and_api_commits_lose_no_update(
    hub: Hub, api: HfApi, git_env: dict[str, str], tmp_path: Path
) -> None:
    repo_id = filled_repo(api)
    clones = []
    for index in range(4):
        work = tmp_path / f"work-{index}"
        assert clone(hub, repo_id, work, git_env, hub.alice).returncode == 0
        commit_file(work, f"push-{index}.txt", b"pushed\n", git_env, f"push {index}")
        clones.append(work)

    def push_one(work: Path) -> tuple[str, list[str]]:
        """Push until accepted, pulling (rebase) after each refusal; returns the refusals."""
        refusals = []
        for _attempt in range(20):
            done = push(work, "main", env=git_env)
            if done.returncode == 0:
                return git(work, "rev-parse", "HEAD", env=git_env), refusals
            refusals.append(done.stderr)
            git(work, "pull", "-q", "--rebase", env=git_env)
        raise AssertionError(f"never accepted: {refusals[-1]}")

    def commit_one(index: int) -> str:
        data = f"api {index}\n".encode()
        return api.upload_file(
            path_or_fileobj=data, path_in_repo=f"api-{index}.txt", repo_id=repo_id
        ).oid

    with ThreadPoolExecutor(8) as pool:  # all at once: pushes and commits interleave
        push_futures = [pool.submit(push_one, work) for work in clones]
        commit_futures = [pool.submit(commit_one, index) for index in range(4)]
        pushes = [f.result() for f in push_futures]
        commits = [f.result() for f in commit_futures]
    final = tmp_path / "final"
    assert clone(hub, repo_id, final, git_env).returncode == 0
    for sha in [sha for sha, _refusals in pushes] + commits:
        git(final, "merge-base", "--is-ancestor", sha, "HEAD", env=git_env)
    names = {path.name for path in final.iterdir()}
    assert {f"push-{i}.txt" for i in range(4)} | {f"api-{i}.txt" for i in range(4)} <= names
    refusals = [text for _sha, texts in pushes for text in texts]
    for text in refusals:  # by git itself (stale remote ref) or by the hub's hook
        assert "[rejected]" in text or "remote: hugbox: refs/heads/main was updated" in text
    assert git(final, "rev-parse", "HEAD", env=git_env) == api.model_info(repo_id).sha


def test_git_lfs_is_asked_for_credentials_on_a_gated_repo(hub: Hub, api: HfApi) -> None:
    repo_id = filled_repo(api)
    api.update_repo_settings(repo_id, gated="manual")
    batch = f"{hub.endpoint}/{repo_id}.git/info/lfs/objects/batch"
    body = {"operation": "download", "objects": [{"oid": hashlib.sha256(WEIGHTS).hexdigest(),
                                                   "size": len(WEIGHTS)}]}  # fmt: skip
    headers = {"Accept": "application/vnd.git-lfs+json"}
    anonymous = httpx.post(batch, json=body, headers=headers)
    assert anonymous.status_code == 401
    assert anonymous.headers["lfs-authenticate"].startswith("Basic ")
    assert httpx.post(batch, json=body, headers=headers, auth=("x", hub.bob)).status_code == 403
    owner = httpx.post(batch, json=body, headers=headers, auth=("x", hub.alice))
    assert owner.status_code == 200 and "download" in owner.json()["objects"][0]["actions"]
