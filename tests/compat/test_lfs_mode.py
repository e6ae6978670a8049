"""HF-faithful uploads: a hub in `lfs` preupload mode, and clients with Xet turned off.

`HF_HUB_DISABLE_XET` is read when huggingface_hub is imported, so the client runs in a
subprocess; the hub here is a second one, started with its own settings and data dir.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import create_token, run_cli, running_hub

pytestmark = pytest.mark.compat

CHUNK = 1024 * 1024  # HUGBOX_LFS_MULTIPART_CHUNK_SIZE of this hub


@dataclass(frozen=True)
class LfsHub:
    endpoint: str
    log: Path
    alice: str

    def requests(self) -> list[str]:
        """`METHOD /path STATUS` of every request served so far (from the access log)."""
        pattern = re.compile(r"hugbox\.access: (\w+ \S+ \d{3}) ")
        return pattern.findall(self.log.read_text())


@pytest.fixture(scope="module")
def lfs_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LfsHub]:
    data_dir = tmp_path_factory.mktemp("lfs-hub-data")
    # Only alice is needed here; seeding less keeps this second hub quick to start.
    assert run_cli(data_dir, "user", "create", "alice", "--password", "pw-alice").returncode == 0
    token = create_token(data_dir, "alice", "write")
    env = {"HUGBOX_PREUPLOAD_MODE": "lfs", "HUGBOX_LFS_MULTIPART_CHUNK_SIZE": str(CHUNK)}
    log_path = data_dir / "server.log"
    with running_hub(data_dir, env=env, log_path=log_path, log_level="info") as endpoint:
        yield LfsHub(endpoint=endpoint, log=log_path, alice=token)


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def create_repo(hub: LfsHub) -> str:
    repo_id = f"alice/lfs-{uuid.uuid4().hex[:10]}"
    response = httpx.post(
        f"{hub.endpoint}/api/repos/create",
        json={"name": repo_id.split("/")[1], "organization": "alice"},
        headers=auth(hub.alice),
    )
    assert response.status_code == 200, response.text
    return repo_id


# Runs in the subprocess: upload through the LFS batch API, download, report what it saw.
CLIENT = textwrap.dedent(
    """
    import hashlib, json, sys
    from pathlib import Path
    from huggingface_hub import HfApi, constants, hf_hub_download

    repo_id, folder, cache = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    api = HfApi()
    single = api.upload_file(
        path_or_fileobj=str(folder / "small.bin"), path_in_repo="small.bin", repo_id=repo_id
    )
    multi = api.upload_folder(folder_path=folder / "tree", repo_id=repo_id)
    downloaded = {}
    for path in ("small.bin", "big/model.safetensors", "readme.txt"):
        local = hf_hub_download(repo_id, path, cache_dir=cache)
        downloaded[path] = hashlib.sha256(Path(local).read_bytes()).hexdigest()
    print(json.dumps({
        "xet_disabled": constants.HF_HUB_DISABLE_XET,
        "commits": [single.oid, multi.oid],
        "head": api.model_info(repo_id).sha,
        "downloaded": downloaded,
    }))
    """
)


def run_client(hub: LfsHub, *args: str, home: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.endpoint,
        "HF_TOKEN": hub.alice,
        "HF_HOME": str(home),
        "HF_HUB_DISABLE_XET": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", CLIENT, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_uploads_go_through_the_lfs_batch_api(lfs_hub: LfsHub, tmp_path: Path) -> None:
    repo_id = create_repo(lfs_hub)
    small, big, text = os.urandom(300_000), os.urandom(3 * CHUNK), b"plain text\n"
    (tmp_path / "tree/big").mkdir(parents=True)
    (tmp_path / "small.bin").write_bytes(small)
    (tmp_path / "tree/big/model.safetensors").write_bytes(big)
    (tmp_path / "tree/readme.txt").write_bytes(text)

    report = run_client(lfs_hub, repo_id, str(tmp_path), str(tmp_path / "cache"), home=tmp_path)

    assert report["xet_disabled"] is True
    assert report["head"] == report["commits"][1]
    digests = {"small.bin": small, "big/model.safetensors": big, "readme.txt": text}
    assert report["downloaded"] == {p: hashlib.sha256(d).hexdigest() for p, d in digests.items()}
    small_oid, big_oid = hashlib.sha256(small).hexdigest(), hashlib.sha256(big).hexdigest()
    served = lfs_hub.requests()
    assert f"POST /{repo_id}.git/info/lfs/objects/batch 200" in served
    # One signed PUT for the small object, three parts and a completion for the big one.
    assert f"PUT /api/lfs/objects/{small_oid} 200" in served
    parts = [r for r in served if r.startswith(f"PUT /api/lfs/multipart/{big_oid}/")]
    assert parts == [f"PUT /api/lfs/multipart/{big_oid}/{n} 200" for n in (1, 2, 3)]
    assert f"POST /api/lfs/multipart/{big_oid} 200" in served
    assert not any("xet" in r for r in served)
    tree = httpx.get(
        f"{lfs_hub.endpoint}/api/models/{repo_id}/tree/main?recursive=true",
        headers=auth(lfs_hub.alice),
    ).json()
    lfs = {e["path"]: e.get("lfs", {}).get("oid") for e in tree if e["type"] == "file"}
    assert lfs == {
        ".gitattributes": None,
        "small.bin": small_oid,
        "big/model.safetensors": big_oid,
        "readme.txt": None,
    }


def _batch(hub: LfsHub, repo_id: str, oid: str, size: int, multipart: bool) -> dict[str, Any]:
    response = httpx.post(
        f"{hub.endpoint}/{repo_id}.git/info/lfs/objects/batch",
        json={
            "operation": "upload",
            "transfers": ["basic", "multipart"] if multipart else ["basic"],
            "objects": [{"oid": oid, "size": size}],
            "hash_algo": "sha256",
            "ref": {"name": "main"},
        },
        headers={**auth(hub.alice), "accept": "application/vnd.git-lfs+json"},
    )
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()["objects"][0]
    return item


def _verify(hub: LfsHub, item: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        item["actions"]["verify"]["href"],
        json={"oid": item["oid"], "size": item["size"]},
        headers=auth(hub.alice),
    )


def _assert_not_stored(hub: LfsHub, repo_id: str, oid: str, size: int) -> None:
    again = _batch(hub, repo_id, oid, size, multipart=False)
    assert "upload" in again["actions"]  # still asks for the bytes
    response = httpx.post(
        f"{hub.endpoint}/api/models/{repo_id}/commit/main",
        content=b"\n".join(
            json.dumps(line).encode()
            for line in (
                {"key": "header", "value": {"summary": "use it", "description": ""}},
                {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid}},
            )
        ),
        headers={**auth(hub.alice), "content-type": "application/x-ndjson"},
    )
    assert 400 <= response.status_code < 500
    assert response.headers["x-error-message"]


def test_single_put_with_wrong_content_is_rejected(lfs_hub: LfsHub) -> None:
    repo_id = create_repo(lfs_hub)
    real, forged = os.urandom(5000), os.urandom(5000)
    oid = hashlib.sha256(real).hexdigest()
    item = _batch(lfs_hub, repo_id, oid, len(real), multipart=False)
    upload = item["actions"]["upload"]
    assert "header" not in upload or "chunk_size" not in upload["header"]
    response = httpx.put(upload["href"], content=forged)  # signed URL: no token needed
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["x-error-message"]
    assert _verify(lfs_hub, item).status_code == 404
    _assert_not_stored(lfs_hub, repo_id, oid, len(real))
    # The same URL then takes the right bytes.
    assert httpx.put(upload["href"], content=real).status_code == 200
    assert _verify(lfs_hub, item).status_code == 200
    assert "actions" not in _batch(lfs_hub, repo_id, oid, len(real), multipart=False)


def test_multipart_with_wrong_content_is_rejected(lfs_hub: LfsHub) -> None:
    repo_id = create_repo(lfs_hub)
    real = os.urandom(2 * CHUNK + 10)
    oid = hashlib.sha256(real).hexdigest()
    item = _batch(lfs_hub, repo_id, oid, len(real), multipart=True)
    header = item["actions"]["upload"]["header"]
    assert int(header["chunk_size"]) == CHUNK
    assert sorted(k for k in header if k != "chunk_size") == ["1", "2", "3"]
    forged = bytearray(real)
    forged[-1] ^= 0xFF
    etags = []
    for n in (1, 2, 3):
        part = bytes(forged[(n - 1) * CHUNK : n * CHUNK])
        response = httpx.put(header[str(n)], content=part)
        assert response.status_code == 200
        etags.append({"partNumber": n, "etag": response.headers["etag"]})
    done = httpx.post(item["actions"]["upload"]["href"], json={"oid": oid, "parts": etags})
    assert 400 <= done.status_code < 500, done.text
    assert done.headers["x-error-message"]
    _assert_not_stored(lfs_hub, repo_id, oid, len(real))


def test_preupload_answers_by_gitattributes(lfs_hub: LfsHub) -> None:
    repo_id = create_repo(lfs_hub)

    def item(path: str, data: bytes) -> dict[str, Any]:
        sample = base64.b64encode(data[:512]).decode()
        return {"path": path, "size": len(data), "sample": sample}

    response = httpx.post(
        f"{lfs_hub.endpoint}/api/models/{repo_id}/preupload/main",
        json={
            "files": [
                item("weights/model.bin", os.urandom(1000)),
                item("notes.txt", b"small text\n"),
                item("empty.pkl", b""),
                item("blob.dat", b"\x00\x01binary"),
            ]
        },
        headers=auth(lfs_hub.alice),
    )
    assert response.status_code == 200, response.text
    modes = {f["path"]: (f["uploadMode"], f["shouldIgnore"]) for f in response.json()["files"]}
    assert modes == {
        "weights/model.bin": ("lfs", False),
        "notes.txt": ("regular", False),
        "empty.pkl": ("regular", False),
        "blob.dat": ("lfs", False),
    }
