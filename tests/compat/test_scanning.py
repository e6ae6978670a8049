"""Every pickle-bearing file is scanned once per blob and its verdict served as HF serves it,
to the stock huggingface_hub client and over git; the Inference API refuses unsafe weights.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from sqlalchemy import create_engine, text

from hugbox.settings import Settings
from support import Hub, create_token, unique
from testdb import data_dir_env

pytestmark = pytest.mark.compat


class RunsAShell:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo owned",))


EVIL = pickle.dumps(RunsAShell())
CONFIG = b'{"model_type": "bert", "architectures": ["BertModel"]}'


def wait_for(check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError("the scan did not finish in time")


def scanned(api: HfApi, repo_id: str) -> dict[str, Any]:
    """`securityRepoStatus` once every file is scanned."""

    def done() -> dict[str, Any] | None:
        status = api.model_info(repo_id, securityStatus=True).security_repo_status
        return status if status and status["scansDone"] else None

    return dict(wait_for(done))


def count_rows(hub: Hub, query: str, **params: str) -> int:
    """A count from the hub's own database (jobs and verdicts have no public API)."""
    url = data_dir_env(hub.data_dir).get("HUGBOX_DATABASE_URL")
    engine = create_engine(url or Settings(data_dir=hub.data_dir).sqlalchemy_url)
    with engine.connect() as connection:
        count = connection.execute(text(query), params).scalar_one()
    engine.dispose()
    return int(count)


def scan_jobs(hub: Hub, oid: str) -> int:
    query = "SELECT count(*) FROM jobs WHERE kind = 'scanning.scan' AND key = :oid"
    return count_rows(hub, query, oid=oid)


@pytest.fixture
def evil_repo(hub: Hub) -> str:
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = api.create_repo(f"alice/{unique('evil')}").repo_id
    api.upload_file(path_or_fileobj=CONFIG, path_in_repo="config.json", repo_id=repo_id)
    api.upload_file(path_or_fileobj=EVIL, path_in_repo="pytorch_model.bin", repo_id=repo_id)
    return repo_id


def test_an_unsafe_pickle_is_flagged_with_its_import(hub: Hub, evil_repo: str) -> None:
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    status = scanned(api, evil_repo)
    assert status["filesWithIssues"] == [{"path": "pytorch_model.bin", "level": "unsafe"}]
    raw = httpx.get(f"{hub.endpoint}/api/models/{evil_repo}/scan", headers=_auth(hub.alice))
    assert raw.json() == status
    [entry] = api.get_paths_info(evil_repo, ["pytorch_model.bin"], expand=True)
    assert entry.security is not None and entry.security["safe"] is False
    pickle_scan = entry.security["pickle_import_scan"]
    assert pickle_scan["status"] == "unsafe"
    assert {"module": "posix", "name": "system", "safety": "dangerous"} in pickle_scan[
        "pickleImports"
    ]
    tree = {f.path: f for f in api.list_repo_tree(evil_repo, expand=True)}
    assert tree["pytorch_model.bin"].security == entry.security
    assert tree["config.json"].security is None  # not a file the scan reads
    assert next(iter(api.list_repo_tree(evil_repo))).security is None  # only when expanded


def test_the_same_bytes_in_a_second_repo_are_not_scanned_again(hub: Hub, evil_repo: str) -> None:
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    scanned(api, evil_repo)
    other = api.create_repo(f"alice/{unique('copy')}").repo_id
    api.upload_file(path_or_fileobj=EVIL, path_in_repo="weights/model.pt", repo_id=other)
    status = scanned(api, other)  # at once: the verdict of the first repo's blob
    assert status["filesWithIssues"] == [{"path": "weights/model.pt", "level": "unsafe"}]
    [entry] = api.get_paths_info(other, ["weights/model.pt"], expand=True)
    assert entry.lfs is not None
    time.sleep(1)  # a second scan, if one were queued, would have run by now
    assert scan_jobs(hub, entry.lfs.sha256) == 1


def test_a_pickle_pushed_with_git_is_flagged(hub: Hub, tmp_path: Path) -> None:
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = api.create_repo(f"alice/{unique('gitpush')}").repo_id
    host = hub.endpoint.removeprefix("http://")
    url = f"http://alice:{hub.alice}@{host}/{repo_id}"
    work = tmp_path / "clone"
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1"}
    subprocess.run(["git", "clone", "-q", url, str(work)], check=True, env=env)
    (work / "optimizer.pkl").write_bytes(EVIL)
    (work / "raw.pkl").write_bytes(EVIL + b".")  # other bytes, kept as a plain git blob
    with (work / ".gitattributes").open("a") as attributes:
        attributes.write("raw.pkl -filter -diff -merge -text\n")
    for args in (["add", "."], ["-c", "user.name=a", "-c", "user.email=a@x",
                 "commit", "-qm", "add"], ["push", "-q", "origin", "main"]):  # fmt: skip
        subprocess.run(["git", "-C", str(work), *args], check=True, env=env)
    status = scanned(api, repo_id)
    assert sorted(f["path"] for f in status["filesWithIssues"]) == ["optimizer.pkl", "raw.pkl"]
    entries = api.get_paths_info(repo_id, ["optimizer.pkl", "raw.pkl"], expand=True)
    assert [e.lfs is None for e in entries] == [False, True]  # through git-lfs, and plain git
    for entry in entries:
        assert entry.security is not None
        assert entry.security["pickle_import_scan"]["status"] == "unsafe"


def test_safe_weights_and_broken_safetensors(hub: Hub) -> None:
    import torch
    from safetensors.torch import save

    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = api.create_repo(f"alice/{unique('mixed')}").repo_id
    api.upload_file(path_or_fileobj=save({"w": torch.zeros(4)}), path_in_repo="good.safetensors",
                    repo_id=repo_id)  # fmt: skip
    api.upload_file(path_or_fileobj=b"\xff" * 64, path_in_repo="bad.safetensors", repo_id=repo_id)
    status = scanned(api, repo_id)
    assert status["filesWithIssues"] == [{"path": "bad.safetensors", "level": "error"}]
    info = {f.path: f for f in api.get_paths_info(repo_id, ["good.safetensors"], expand=True)}
    assert info["good.safetensors"].security is not None
    assert info["good.safetensors"].security["safe"] is True


def test_inference_refuses_unsafe_weights(hub: Hub, evil_repo: str) -> None:
    response = httpx.post(
        f"{hub.endpoint}/models/{evil_repo}", json={"inputs": "hello"}, headers=_auth(hub.alice),
        timeout=60,
    )  # fmt: skip
    assert response.status_code == 403
    assert response.headers["x-error-code"] == "UnsafeWeights"
    assert "posix.system" in response.headers["x-error-message"]
    assert "pytorch_model.bin" in response.json()["error"]


def test_scan_status_of_a_private_repo_is_not_found_to_others(hub: Hub, evil_repo: str) -> None:
    HfApi(endpoint=hub.endpoint, token=hub.alice).update_repo_settings(evil_repo, private=True)
    for headers in ({}, _auth(hub.bob)):
        response = httpx.get(f"{hub.endpoint}/api/models/{evil_repo}/scan", headers=headers)
        assert response.status_code in (401, 404)
        assert response.headers["x-error-code"] == "RepoNotFound"
    missing = httpx.get(f"{hub.endpoint}/api/models/alice/{unique('none')}/scan")
    assert missing.status_code == 401 and missing.headers["x-error-code"] == "RepoNotFound"


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _whoami_status(hub: Hub, token: str) -> int:
    return httpx.get(f"{hub.endpoint}/api/whoami-v2", headers=_auth(token)).status_code


def test_a_token_published_in_a_public_repo_is_revoked(hub: Hub) -> None:
    leaked = create_token(hub.data_dir, "carol", "write")
    assert _whoami_status(hub, leaked) == 200
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = api.create_repo(f"alice/{unique('leak')}").repo_id
    readme = f'---\nlicense: mit\n---\n# Demo\n\nlogin(token="{leaked}")\n'.encode()
    api.upload_file(path_or_fileobj=readme, path_in_repo="README.md", repo_id=repo_id)
    wait_for(lambda: _whoami_status(hub, leaked) == 401, timeout=10)
    assert _whoami_status(hub, hub.carol) == 200  # her other tokens stay


def test_a_token_in_a_private_repo_is_revoked_when_the_repo_turns_public(hub: Hub) -> None:
    leaked = create_token(hub.data_dir, "carol", "read")
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = api.create_repo(f"alice/{unique('private-leak')}", private=True).repo_id
    api.upload_file(path_or_fileobj=f"HF_TOKEN={leaked}\n".encode(), path_in_repo=".env",
                    repo_id=repo_id)  # fmt: skip
    [env] = api.get_paths_info(repo_id, [".env"])
    wait_for(lambda: _secrets_checked(hub, env.blob_id))
    assert _whoami_status(hub, leaked) == 200  # private: nobody else could read it
    api.update_repo_settings(repo_id, private=False)
    wait_for(lambda: _whoami_status(hub, leaked) == 401, timeout=10)


def _secrets_checked(hub: Hub, blob_id: str) -> bool:
    return bool(count_rows(hub, "SELECT count(*) FROM secret_scans WHERE oid = :oid", oid=blob_id))
