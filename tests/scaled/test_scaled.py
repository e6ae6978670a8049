"""A scaled hub (tests/scaled/conftest.py) with the stock clients, through the load balancer:
the bytes live in S3, the metadata in PostgreSQL, and either replica serves any request."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download

from scaled_hub import ScaledHub
from support import unique

pytestmark = [pytest.mark.scaled, pytest.mark.slow]

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_OBJECT = re.compile(r"[0-9a-f]{64}")  # a content-addressed file: LFS object, xorb, shard, recipe


def _api(hub: ScaledHub, user: str = "alice") -> HfApi:
    return HfApi(endpoint=hub.url, token=hub.tokens[user])


def _local_objects(hub: ScaledHub) -> list[Path]:
    """Content-addressed objects on the shared volume: with S3, there are none."""
    found = []
    for folder in ("lfs", "xet"):
        root = hub.data_dir / folder
        if root.exists():
            found += [p for p in root.rglob("*") if _OBJECT.fullmatch(p.name) and p.is_file()]
    return found


def _git_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (["config", "--global", "user.name", "Alice"],
                 ["config", "--global", "user.email", "alice@example.com"],
                 ["lfs", "install", "--skip-repo"]):  # fmt: skip
        _git(tmp_path, *args, env=env)
    return env


def _git(cwd: Path, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, f"git {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout.strip()


def test_requests_are_spread_over_both_replicas(scaled: ScaledHub) -> None:
    upstreams = {
        httpx.get(f"{scaled.url}/api/models", timeout=30).headers["x-upstream"] for _ in range(6)
    }
    assert len(upstreams) == 2


def test_uploads_land_in_s3_and_download_byte_identical(scaled: ScaledHub, tmp_path: Path) -> None:
    api = _api(scaled)
    repo_id = api.create_repo(f"alice/{unique('s3')}").repo_id
    objects_before = len(scaled.s3.object_keys())
    small, weights = b'{"hidden_size": 8}\n', os.urandom(3 * 1024 * 1024 + 17)
    api.upload_file(path_or_fileobj=small, path_in_repo="config.json", repo_id=repo_id)
    api.upload_file(path_or_fileobj=weights, path_in_repo="model.safetensors", repo_id=repo_id)

    assert _local_objects(scaled) == []
    assert len(scaled.s3.object_keys()) > objects_before  # Xet: xorbs, a shard and a recipe
    for name, data in (("config.json", small), ("model.safetensors", weights)):
        path = hf_hub_download(repo_id, name, endpoint=scaled.url, token=scaled.tokens["alice"],
                               cache_dir=tmp_path / "cache")  # fmt: skip
        assert Path(path).read_bytes() == data


def test_concurrent_commits_through_both_replicas_lose_nothing(scaled: ScaledHub) -> None:
    api = _api(scaled)
    repo_id = api.create_repo(f"alice/{unique('race')}").repo_id
    before = len(api.list_repo_commits(repo_id))

    def commit(i: int) -> str:
        info = api.upload_file(path_or_fileobj=f"file {i}\n".encode(), path_in_repo=f"f{i}.txt",
                               repo_id=repo_id, commit_message=f"file {i}")  # fmt: skip
        return info.oid

    with ThreadPoolExecutor(32) as pool:
        oids = list(pool.map(commit, range(32)))

    history = [c.commit_id for c in api.list_repo_commits(repo_id)]
    assert len(history) == before + 32
    assert set(oids) <= set(history)
    files = set(api.list_repo_files(repo_id))
    assert {f"f{i}.txt" for i in range(32)} <= files


def test_git_clone_and_push_through_the_balancer(scaled: ScaledHub, tmp_path: Path) -> None:
    api = _api(scaled)
    repo_id = api.create_repo(f"alice/{unique('git')}").repo_id
    api.upload_file(path_or_fileobj=b"hello\n", path_in_repo="notes.txt", repo_id=repo_id)
    env = _git_env(tmp_path)
    host = scaled.url.removeprefix("http://")
    remote = f"http://alice:{scaled.tokens['alice']}@{host}/{repo_id}"
    _git(tmp_path, "clone", remote, "work", env=env)
    work = tmp_path / "work"
    assert (work / "notes.txt").read_bytes() == b"hello\n"
    weights = os.urandom(200_000)
    (work / "model.safetensors").write_bytes(weights)  # LFS by the default .gitattributes
    _git(work, "add", "-A", env=env)
    _git(work, "commit", "-m", "weights through git", env=env)
    _git(work, "push", "origin", "HEAD:main", env=env)

    assert api.model_info(repo_id).sha == _git(work, "rev-parse", "HEAD", env=env)
    assert _local_objects(scaled) == []
    # A git-lfs object is one object in the bucket: downloads go there, not through a replica.
    resolve = f"{scaled.url}/{repo_id}/resolve/main/model.safetensors"
    answer = httpx.get(resolve, headers={"authorization": f"Bearer {scaled.tokens['alice']}"},
                       follow_redirects=False, timeout=30)  # fmt: skip
    assert answer.status_code == 302, answer.headers
    assert answer.headers["location"].startswith(scaled.s3.endpoint)
    path = hf_hub_download(repo_id, "model.safetensors", endpoint=scaled.url,
                           token=scaled.tokens["alice"], cache_dir=tmp_path / "cache")  # fmt: skip
    assert Path(path).read_bytes() == weights


def test_load_dataset_after_a_conversion_by_either_replica(
    scaled: ScaledHub, tmp_path: Path
) -> None:
    api = _api(scaled)
    repo_id = api.create_repo(f"alice/{unique('ds')}", repo_type="dataset").repo_id
    rows = "text,label\n" + "".join(f"row {i},{i % 3}\n" for i in range(50))
    api.upload_file(path_or_fileobj=rows.encode(), path_in_repo="train.csv", repo_id=repo_id,
                    repo_type="dataset")  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        splits = httpx.get(f"{scaled.url}/datasets-server/splits", params={"dataset": repo_id},
                           headers={"authorization": f"Bearer {scaled.tokens['alice']}"},
                           timeout=30)  # fmt: skip
        if splits.status_code != 503:
            break
        time.sleep(0.3)
    assert splits.status_code == 200, splits.text

    script = (
        "from datasets import load_dataset; "
        f"d = load_dataset({repo_id!r}, revision='refs/convert/parquet', split='train'); "
        "print(len(d), sorted(d.features))"
    )
    env = {**os.environ, "HF_ENDPOINT": scaled.url, "HF_TOKEN": scaled.tokens["alice"],
           "HF_HOME": str(tmp_path / "hf")}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("50 ['label', 'text']")


def _login(client: httpx.Client, user: str, password: str) -> httpx.Response:
    csrf = _CSRF.search(client.get("/login").text)
    assert csrf
    form = {"csrf_token": csrf[1], "username": user, "password": password}
    return client.post("/login", data=form, follow_redirects=False)


def test_a_web_login_on_one_replica_is_valid_on_the_other(scaled: ScaledHub) -> None:
    one, other = scaled.replicas[0], scaled.replicas[1]
    with httpx.Client(base_url=one.url, timeout=30) as first:
        assert _login(first, "alice", "pw-alice").status_code == 303
        cookies = first.cookies
    with httpx.Client(base_url=other.url, cookies=cookies, timeout=30) as second:
        settings = second.get("/settings/tokens", follow_redirects=False)
        assert settings.status_code == 200, settings.headers
        assert "alice" in settings.text


def test_failed_logins_are_counted_across_replicas(scaled: ScaledHub) -> None:
    clients = [httpx.Client(base_url=r.url, timeout=30) for r in scaled.replicas]
    try:
        statuses = [_login(clients[i % 2], "bob", "wrong").status_code for i in range(10)]
        assert statuses == [401] * 10
        assert {_login(client, "bob", "wrong").status_code for client in clients} == {429}
    finally:
        for client in clients:
            client.close()


def test_kill_9_of_a_replica_loses_no_acknowledged_commit(scaled: ScaledHub) -> None:
    api = _api(scaled)
    repo_id = api.create_repo(f"alice/{unique('kill')}").repo_id
    acknowledged: list[tuple[str, str]] = []
    lock = threading.Lock()

    def commit(i: int) -> None:
        try:
            info = api.upload_file(path_or_fileobj=f"burst {i}\n".encode(),
                                   path_in_repo=f"b{i}.txt", repo_id=repo_id)  # fmt: skip
        except Exception:  # cut off by the kill: not acknowledged, so it may be lost
            return
        with lock:
            acknowledged.append((f"b{i}.txt", info.oid))

    victim = scaled.replicas[0]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(commit, i) for i in range(48)]
        while len(acknowledged) < 8:
            time.sleep(0.02)
        victim.kill()
        for future in futures:
            future.result()

    try:
        # Everything answers from the survivor now, and everything acknowledged is there.
        files = set(api.list_repo_files(repo_id))
        history = {c.commit_id for c in api.list_repo_commits(repo_id)}
        assert len(acknowledged) >= 24  # the survivor took the rest of the burst
        for path, oid in acknowledged:
            assert path in files
            assert oid in history
        for path, _ in acknowledged[:5]:
            url = f"{scaled.url}/{repo_id}/resolve/main/{path}"
            got = httpx.get(url, headers={"authorization": f"Bearer {scaled.tokens['alice']}"},
                            timeout=30)  # fmt: skip
            assert got.status_code == 200
    finally:
        victim.start()
        victim.wait_ready()
