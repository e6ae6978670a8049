"""Xet end to end: the stock client (hf_xet active) uploads and downloads through hugbox's CAS.

A hub of its own (fresh data dir, access log on) so the tests can see which requests and how
many xorb bytes arrived. Forgeries are sent by hand (tests/xet_wire.py) with a real write token.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationCopy,
    HfApi,
    constants,
    hf_hub_download,
    snapshot_download,
)

from hugbox.xet import format as fmt
from support import create_token, free_port, run_cli, running_hub, unique
from xet_wire import FileEntry, shard, xorb

pytestmark = [
    pytest.mark.compat,
    # huggingface_hub 2.4's non-Xet LFS upload PUTs with httpx2's deprecated `data=` (theirs).
    pytest.mark.filterwarnings(
        r"ignore:Use 'content=<\.\.\.>' to upload raw bytes/text content:DeprecationWarning"
    ),
]
MB = 1024 * 1024


@dataclass(frozen=True)
class XetHub:
    endpoint: str
    data_dir: Path
    log: Path
    alice: str
    bob: str

    def api(self, token: str | None = None) -> HfApi:
        return HfApi(endpoint=self.endpoint, token=token or self.alice)

    def received(self) -> list[tuple[str, int]]:
        """(xorb hash, bytes) of every xorb upload so far, from the server log."""
        found = re.findall(r"xorb ([0-9a-f]{64}): (\d+) bytes received", self.log.read_text())
        return [(h, int(n)) for h, n in found]

    def requests(self) -> list[str]:
        return re.findall(r"hugbox\.access: (\w+ \S+ \d{3}) ", self.log.read_text())


def _seed(data_dir: Path) -> tuple[str, str]:
    for user in ("alice", "bob"):
        assert run_cli(data_dir, "user", "create", user, "--password", "pw").returncode == 0
    return create_token(data_dir, "alice", "write"), create_token(data_dir, "bob", "write")


@pytest.fixture(scope="module")
def xet_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XetHub]:
    data_dir = tmp_path_factory.mktemp("xet-hub-data")
    alice, bob = _seed(data_dir)
    log = data_dir / "server.log"
    with running_hub(data_dir, log_path=log, log_level="info") as endpoint:
        yield XetHub(endpoint, data_dir, log, alice, bob)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _repo(hub: XetHub, token: str | None = None, owner: str = "alice") -> str:
    return hub.api(token).create_repo(f"{owner}/{unique('xet')}").repo_id


def _download(hub: XetHub, repo_id: str, path: str, cache: Path) -> bytes:
    local = hf_hub_download(repo_id, path, cache_dir=cache, endpoint=hub.endpoint, token=hub.alice)
    return Path(local).read_bytes()


def _float32(n: int) -> bytes:
    return np.random.default_rng(0).standard_normal(n, dtype=np.float32).tobytes()


def _text(size: int) -> bytes:
    words = [b"tensor", b"weights", b"hugbox", b"xet", b"chunk", b"the", b"of", b"model\n"]
    rng = np.random.default_rng(1)
    return b" ".join(words[i] for i in rng.integers(0, len(words), size // 5))[:size]


def test_files_of_every_kind_round_trip_through_xet(xet_hub: XetHub, tmp_path: Path) -> None:
    repo_id = _repo(xet_hub)
    files = {
        "empty.bin": b"",
        "one.bin": b"\x01",
        "random.bin": os.urandom(10 * MB),
        "tensor.safetensors": _float32(2 * MB),  # byte-grouped LZ4 chunks
        "corpus.bin": _text(4 * MB),  # LZ4 chunks
    }
    folder = tmp_path / "up"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    xet_hub.api().upload_folder(folder_path=folder, repo_id=repo_id)

    assert any("/v1/shards 200" in r for r in xet_hub.requests())
    for name, data in files.items():
        assert _download(xet_hub, repo_id, name, tmp_path / "cache") == data, name
    assert any("/reconstructions/" in r for r in xet_hub.requests())
    tree = xet_hub.api().list_repo_tree(repo_id)
    lfs = {f.path: f.lfs.sha256 for f in tree if getattr(f, "lfs", None)}
    assert all(f.xet_hash for f in tree if getattr(f, "lfs", None))  # downloads skip the HEAD
    assert lfs == {n: _sha(d) for n, d in files.items() if d}  # empty files stay in git


def test_a_big_file_spans_several_xorbs(xet_hub: XetHub, tmp_path: Path) -> None:
    repo_id = _repo(xet_hub)
    data = os.urandom(200 * MB)
    before = len(xet_hub.received())
    xet_hub.api().upload_file(path_or_fileobj=data, path_in_repo="big.bin", repo_id=repo_id)
    assert len(xet_hub.received()) - before >= 3
    snapshot = snapshot_download(
        repo_id, cache_dir=tmp_path, endpoint=xet_hub.endpoint, token=xet_hub.alice
    )
    assert _sha((Path(snapshot) / "big.bin").read_bytes()) == _sha(data)


def test_repetitive_files_download_whole(xet_hub: XetHub, tmp_path: Path) -> None:
    """Zeros and repeated blocks name the same chunks in many terms: each must be fetchable."""
    repo_id = _repo(xet_hub)
    block = os.urandom(300_000)
    files = {"zeros.bin": b"\x00" * 20_000_000, "repeats.bin": block * 40 + b"\x00" * MB + block}
    for name, data in files.items():
        xet_hub.api().upload_file(path_or_fileobj=data, path_in_repo=name, repo_id=repo_id)
    for name, data in files.items():
        assert _download(xet_hub, repo_id, name, tmp_path / "cache") == data, name


def test_a_modified_copy_sends_only_what_changed(xet_hub: XetHub, tmp_path: Path) -> None:
    repo_id = _repo(xet_hub)
    api = xet_hub.api()
    original = bytearray(os.urandom(10 * MB))
    api.upload_file(path_or_fileobj=bytes(original), path_in_repo="w.bin", repo_id=repo_id)
    original[5 * MB : 5 * MB + 100_000] = os.urandom(100_000)
    before = len(xet_hub.received())
    api.upload_file(path_or_fileobj=bytes(original), path_in_repo="w.bin", repo_id=repo_id)
    sent = sum(n for _h, n in xet_hub.received()[before:])
    assert 0 < sent < MB  # ~ the changed chunks, not the 10 MB
    assert _download(xet_hub, repo_id, "w.bin", tmp_path) == bytes(original)


# Runs with a cold Xet cache (own HF_HOME): an upload by bob of data alice already stored.
COLD_UPLOAD = textwrap.dedent(
    """
    import sys
    from huggingface_hub import HfApi
    endpoint, token, repo_id, path = sys.argv[1:]
    HfApi(endpoint=endpoint, token=token).upload_file(
        path_or_fileobj=path, path_in_repo="same.bin", repo_id=repo_id
    )
    """
)


def _xet_token(hub: XetHub, repo_id: str, token: str, kind: str = "write") -> dict[str, Any]:
    url = f"{hub.endpoint}/api/models/{repo_id}/xet-{kind}-token/main"
    response = httpx.get(url, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["x-xet-access-token"] == body["accessToken"]
    return body


def test_same_content_for_two_owners_leaks_nothing(xet_hub: XetHub, tmp_path: Path) -> None:
    data = os.urandom(5000)  # one chunk: its hash is the dedup key of the file
    alice_repo = xet_hub.api().create_repo(f"alice/{unique('priv')}", private=True).repo_id
    xet_hub.api().upload_file(path_or_fileobj=data, path_in_repo="same.bin", repo_id=alice_repo)
    chunk = fmt.hash_to_str(fmt.chunk_hash(data))
    bob_repo = _repo(xet_hub, xet_hub.bob, owner="bob")
    for token, repo, status in ((xet_hub.alice, alice_repo, 200), (xet_hub.bob, bob_repo, 404)):
        grant = _xet_token(xet_hub, repo, token)
        probe = httpx.get(
            f"{grant['casUrl']}/v1/chunks/default/{chunk}",
            headers={"authorization": f"Bearer {grant['accessToken']}"},
        )
        assert probe.status_code == status
    (tmp_path / "same.bin").write_bytes(data)
    env = {**os.environ, "HF_HOME": str(tmp_path / "home")}
    args = [xet_hub.endpoint, xet_hub.bob, bob_repo, str(tmp_path / "same.bin")]
    before = len(xet_hub.received())
    subprocess.run([sys.executable, "-c", COLD_UPLOAD, *args], env=env, check=True, timeout=120)
    # Nothing told bob's client that the hub has these bytes: it had to send them.
    assert sum(n for _h, n in xet_hub.received()[before:]) >= len(data)
    file_hash = fmt.hash_to_str(fmt.file_hash([(fmt.chunk_hash(data), len(data))]))
    bob_grant = _xet_token(xet_hub, bob_repo, xet_hub.bob, "read")
    alice_grant = _xet_token(xet_hub, alice_repo, xet_hub.alice, "read")
    assert bob_grant["accessToken"] != alice_grant["accessToken"]
    assert _download(xet_hub, bob_repo, "same.bin", tmp_path / "c") == data
    # bob's token reads his own repo's files; a file only alice holds is hidden from it.
    other = os.urandom(5000)
    xet_hub.api().upload_file(path_or_fileobj=other, path_in_repo="o.bin", repo_id=alice_repo)
    hidden = fmt.hash_to_str(fmt.file_hash([(fmt.chunk_hash(other), len(other))]))
    for name, status in ((file_hash, 200), (hidden, 404)):
        response = httpx.get(
            f"{bob_grant['casUrl']}/v1/reconstructions/{name}",
            headers={"authorization": f"Bearer {bob_grant['accessToken']}"},
        )
        assert response.status_code == status


def _post(grant: dict[str, Any], path: str, body: bytes) -> httpx.Response:
    headers = {"authorization": f"Bearer {grant['accessToken']}"}
    return httpx.post(f"{grant['casUrl']}{path}", content=body, headers=headers)


def _commit_lfs(hub: XetHub, repo_id: str, oid: str) -> httpx.Response:
    lines = [
        {"key": "header", "value": {"summary": "use it", "description": ""}},
        {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid}},
    ]
    return httpx.post(
        f"{hub.endpoint}/api/models/{repo_id}/commit/main",
        content=b"\n".join(json.dumps(line).encode() for line in lines),
        headers={"authorization": f"Bearer {hub.alice}", "content-type": "application/x-ndjson"},
    )


def test_forgeries_are_rejected_and_nothing_is_stored(xet_hub: XetHub) -> None:
    repo_id = _repo(xet_hub)
    grant = _xet_token(xet_hub, repo_id, xet_hub.alice)
    chunks = [os.urandom(9000), os.urandom(7000)]
    name, body = xorb(chunks)
    forged = body[:-1] + bytes([body[-1] ^ 1])
    assert _post(grant, f"/v1/xorbs/default/{name}", forged).status_code == 400
    read_grant = _xet_token(xet_hub, repo_id, xet_hub.alice, "read")
    assert _post(read_grant, f"/v1/xorbs/default/{name}", body).status_code == 403
    assert _post(grant, f"/v1/xorbs/default/{name}", body).json() == {"was_inserted": True}

    data = b"".join(chunks)
    lie = _sha(b"some other content")
    bad_check = FileEntry(name, chunks, _sha(data), verification=bytes(32))
    bad_file_hash = FileEntry(name, chunks, _sha(data), file_hash=fmt.hash_to_str(bytes(32)))
    lying = FileEntry(name, chunks, lie)
    for entry in (bad_check, bad_file_hash, lying):
        response = _post(grant, "/v1/shards", shard([entry]))
        assert response.status_code == 400, response.text
        assert response.headers["x-error-message"]
    assert _commit_lfs(xet_hub, repo_id, lie).status_code == 400
    assert _commit_lfs(xet_hub, repo_id, _sha(data)).status_code == 400  # never registered

    assert _post(grant, "/v1/shards", shard([FileEntry(name, chunks, _sha(data))])).is_success
    assert _commit_lfs(xet_hub, repo_id, _sha(data)).status_code == 200
    assert _download(xet_hub, repo_id, "w.bin", xet_hub.data_dir / "forge-cache") == data


def test_xet_files_over_plain_http_and_lfs(
    xet_hub: XetHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo_id = _repo(xet_hub)
    data = os.urandom(3 * MB)
    xet_hub.api().upload_file(path_or_fileobj=data, path_in_repo="m.bin", repo_id=repo_id)
    auth = {"authorization": f"Bearer {xet_hub.alice}"}
    url = f"{xet_hub.endpoint}/{repo_id}/resolve/main/m.bin"
    head = httpx.head(url, headers=auth)
    assert head.headers["x-xet-hash"] and 'rel="xet-auth"' in head.headers["link"]
    part = httpx.get(url, headers={**auth, "range": "bytes=1000000-1999999"})
    assert (part.status_code, part.content) == (206, data[1_000_000:2_000_000])
    assert httpx.get(url, headers={**auth, "range": "bytes=-777"}).content == data[-777:]

    batch = httpx.post(
        f"{xet_hub.endpoint}/{repo_id}.git/info/lfs/objects/batch",
        json={"operation": "download", "objects": [{"oid": _sha(data), "size": len(data)}]},
        headers={**auth, "accept": "application/vnd.git-lfs+json"},
    ).json()
    href = batch["objects"][0]["actions"]["download"]["href"]
    assert httpx.get(href).content == data

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    before = len(xet_hub.requests())
    assert _download(xet_hub, repo_id, "m.bin", tmp_path) == data
    assert not any("/xet" in r.replace(repo_id, "") for r in xet_hub.requests()[before:])


def test_plain_lfs_files_download_over_http_for_xet_clients(
    xet_hub: XetHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo_id = _repo(xet_hub)
    data = os.urandom(200_000)
    with monkeypatch.context() as patch:
        patch.setattr(constants, "HF_HUB_DISABLE_XET", True)  # uploads through the LFS batch API
        xet_hub.api().upload_file(path_or_fileobj=data, path_in_repo="p.bin", repo_id=repo_id)
    before = len(xet_hub.requests())
    assert _download(xet_hub, repo_id, "p.bin", tmp_path) == data
    assert not any("reconstructions" in r for r in xet_hub.requests()[before:])


def test_server_restart_between_upload_and_commit(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert run_cli(data_dir, "user", "create", "alice", "--password", "pw").returncode == 0
    alice = create_token(data_dir, "alice", "write")
    port = free_port()
    data = os.urandom(2 * MB)
    op = CommitOperationAdd(path_in_repo="r.bin", path_or_fileobj=data)
    with running_hub(data_dir, port=port) as endpoint:
        api = HfApi(endpoint=endpoint, token=alice)
        repo_id = api.create_repo(f"alice/{unique('restart')}").repo_id
        api.preupload_lfs_files(repo_id, additions=[op])
    with running_hub(data_dir, port=port) as endpoint:
        api = HfApi(endpoint=endpoint, token=alice)
        api.create_commit(repo_id, operations=[op], commit_message="after restart")
        local = hf_hub_download(
            repo_id, "r.bin", cache_dir=tmp_path / "c", endpoint=endpoint, token=alice
        )
        assert Path(local).read_bytes() == data


def test_copy_from_another_repo_shares_the_xet_file(xet_hub: XetHub, tmp_path: Path) -> None:
    api = xet_hub.api()
    source, target = _repo(xet_hub), _repo(xet_hub)
    data = os.urandom(300_000)
    api.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=source)
    copy = CommitOperationCopy("w.bin", "copied/w.bin", src_repo_id=source, src_repo_type="model")
    api.create_commit(target, operations=[copy], commit_message="copy")
    assert _download(xet_hub, target, "copied/w.bin", tmp_path) == data
    assert any("lfs-files/duplicate 200" in r for r in xet_hub.requests())


def test_an_lfs_batch_offering_xet_is_answered_with_xet(xet_hub: XetHub) -> None:
    """huggingface_hub 0.3x with hf_xet asks the LFS batch API first and goes to the CAS only
    when the answer picks `xet` (docs/compatibility.md runs the real 0.36 client)."""
    repo_id = _repo(xet_hub)
    oid = _sha(b"weights")
    body = {
        "operation": "upload",
        "transfers": ["basic", "multipart", "xet"],
        "objects": [{"oid": oid, "size": 7}, {"oid": "not-a-sha", "size": 1}],
    }
    response = httpx.post(
        f"{xet_hub.endpoint}/{repo_id}.git/info/lfs/objects/batch",
        json=body,
        headers={"authorization": f"Bearer {xet_hub.alice}"},
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["transfer"] == "xet"
    assert answer["objects"][0] == {"oid": oid, "size": 7}  # nothing to PUT: the CAS takes it
    assert answer["objects"][1]["error"]["code"] == 422
    # git-lfs never offers xet, and keeps its signed PUTs.
    body["transfers"] = ["basic"]
    plain = httpx.post(
        f"{xet_hub.endpoint}/{repo_id}.git/info/lfs/objects/batch",
        json=body,
        headers={"authorization": f"Bearer {xet_hub.alice}"},
    ).json()
    assert plain["transfer"] == "basic"
    assert "upload" in plain["objects"][0]["actions"]
