"""A hub whose large files live in S3 (HUGBOX_BLOB_URL, moto in process or S3_ENDPOINT): the
real clients upload (regular, LFS single and multipart, Xet, git-lfs push), download through
the 302 to a presigned URL byte for byte, the dataset viewer serves rows, and nothing lands in
the data dir's lfs/ or xet/ folders; bad uploads store nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download

from s3 import S3Server
from support import create_token, run_cli, running_hub, unique

pytestmark = pytest.mark.compat

CHUNK = 1024 * 1024  # the hub's LFS multipart part size: a 2.5 MiB file goes in 3 parts


@dataclass(frozen=True)
class S3Hub:
    endpoint: str
    data_dir: Path
    bucket: str
    s3: S3Server
    alice: str

    def api(self) -> HfApi:
        return HfApi(endpoint=self.endpoint, token=self.alice)

    def object_keys(self) -> list[str]:
        listing = self.s3.client().list_objects_v2(Bucket=self.bucket)
        return [item["Key"] for item in listing.get("Contents", [])]


@pytest.fixture(scope="module")
def s3_hub(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Hub]:
    data_dir = tmp_path_factory.mktemp("s3-hub-data")
    assert run_cli(data_dir, "user", "create", "alice", "--password", "pw-alice").returncode == 0
    token = create_token(data_dir, "alice", "write")
    bucket = s3.new_bucket()
    env = {
        **s3.env(),
        "HUGBOX_BLOB_URL": f"s3://{bucket}/hub",
        "HUGBOX_LFS_MULTIPART_CHUNK_SIZE": str(CHUNK),
    }
    with running_hub(data_dir, env=env, log_path=data_dir / "server.log") as endpoint:
        yield S3Hub(endpoint, data_dir, bucket, s3, token)
    assert b"unhandled error" not in (data_dir / "server.log").read_bytes()


def test_ready_checks_the_bucket_not_a_blobs_folder(s3_hub: S3Hub) -> None:
    # The seeding CLI ran without the bucket and made an empty lfs/ (a replica's volume has none).
    assert _files_under(s3_hub.data_dir / "lfs") == []
    shutil.rmtree(s3_hub.data_dir / "lfs", ignore_errors=True)
    ready = httpx.get(f"{s3_hub.endpoint}/ready", timeout=30)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "storage": "ok"}


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Runs in a subprocess with Xet off: uploads through the LFS batch API, downloads back.
LFS_CLIENT = textwrap.dedent(
    """
    import hashlib, json, sys
    from pathlib import Path
    from huggingface_hub import HfApi, hf_hub_download

    repo_id, folder, cache = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    api = HfApi()
    for name in ("small.txt", "single.bin", "multi.bin"):
        api.upload_file(path_or_fileobj=str(folder / name), path_in_repo=name, repo_id=repo_id)
    print(json.dumps({
        name: hashlib.sha256(Path(hf_hub_download(repo_id, name, cache_dir=cache)).read_bytes())
        .hexdigest()
        for name in ("small.txt", "single.bin", "multi.bin")
    }))
    """
)


def test_lfs_uploads_and_downloads_through_the_bucket(s3_hub: S3Hub, tmp_path: Path) -> None:
    repo_id = s3_hub.api().create_repo(f"alice/{unique('s3')}").repo_id
    files = {
        "small.txt": b"hello\n",
        "single.bin": os.urandom(200_000),
        "multi.bin": os.urandom(2 * CHUNK + CHUNK // 2),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    env = {**os.environ, "HF_ENDPOINT": s3_hub.endpoint, "HF_TOKEN": s3_hub.alice,
           "HF_HOME": str(tmp_path / "home"), "HF_HUB_DISABLE_XET": "1"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", LFS_CLIENT, repo_id, str(tmp_path), str(tmp_path / "cache")],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        name: _sha(data) for name, data in files.items()
    }
    for name in ("single.bin", "multi.bin"):
        assert any(key.endswith(_sha(files[name])) for key in s3_hub.object_keys())
    assert _files_under(s3_hub.data_dir / "lfs") == []


def test_resolve_redirects_to_a_presigned_url(s3_hub: S3Hub) -> None:
    repo_id = s3_hub.api().create_repo(f"alice/{unique('s3')}").repo_id
    data = os.urandom(300_000)
    commit = _lfs_upload(s3_hub, repo_id, "w.safetensors", data)
    url = f"{s3_hub.endpoint}/{repo_id}/resolve/main/w.safetensors"
    auth = {"authorization": f"Bearer {s3_hub.alice}"}
    for method in ("HEAD", "GET"):
        answer = httpx.request(method, url, headers=auth)
        assert answer.status_code == 302
        assert answer.headers["location"].startswith(s3_hub.s3.endpoint)
        assert answer.headers["x-repo-commit"] == commit
        assert answer.headers["x-linked-size"] == str(len(data))
        assert answer.headers["x-linked-etag"] == f'"{_sha(data)}"'
    location = httpx.head(url, headers=auth).headers["location"]
    fetched = httpx.get(location)
    assert fetched.content == data  # no token: the URL is the credential
    assert fetched.headers["content-disposition"] == "inline; filename*=UTF-8''w.safetensors"
    button = httpx.get(url + "?download=true", headers=auth, follow_redirects=True)
    assert button.content == data
    assert button.headers["content-disposition"] == "attachment; filename*=UTF-8''w.safetensors"
    part = httpx.get(location, headers={"range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    # A multi-range request is answered by the hub: S3 servers get those wrong.
    assert httpx.get(url, headers={**auth, "range": "bytes=0-1,5-6"}).status_code == 200


def _lfs_upload(hub: S3Hub, repo_id: str, path: str, data: bytes) -> str:
    """Through the LFS batch API, then a commit naming the object; returns the commit id."""
    item = _batch(hub, repo_id, _sha(data), len(data), multipart=False)
    if "actions" in item:  # else: this uploader stored it for this repo already
        assert httpx.put(item["actions"]["upload"]["href"], content=data).status_code == 200
    lines = [
        {"key": "header", "value": {"summary": "weights", "description": ""}},
        {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": _sha(data),
                                     "size": len(data)}},
    ]  # fmt: skip
    answer = httpx.post(
        f"{hub.endpoint}/api/models/{repo_id}/commit/main",
        content=b"\n".join(json.dumps(line).encode() for line in lines),
        headers={"authorization": f"Bearer {hub.alice}", "content-type": "application/x-ndjson"},
    )
    assert answer.status_code == 200, answer.text
    commit: str = answer.json()["commitOid"]
    return commit


def test_xet_upload_and_download(s3_hub: S3Hub, tmp_path: Path) -> None:
    api = s3_hub.api()
    repo_id = api.create_repo(f"alice/{unique('s3')}").repo_id
    data = os.urandom(3 * 1024 * 1024)
    api.upload_file(path_or_fileobj=data, path_in_repo="x.safetensors", repo_id=repo_id)
    local = hf_hub_download(
        repo_id, "x.safetensors", endpoint=s3_hub.endpoint, token=s3_hub.alice,
        cache_dir=tmp_path / "hf",
    )  # fmt: skip
    assert Path(local).read_bytes() == data
    # hf_xet fetched the xorbs' ranges from presigned URLs of the bucket, one range per URL.
    auth = {"authorization": f"Bearer {s3_hub.alice}"}
    grant = httpx.get(f"{s3_hub.endpoint}/api/models/{repo_id}/xet-read-token/main",
                      headers=auth).json()  # fmt: skip
    file_hash = httpx.head(
        f"{s3_hub.endpoint}/{repo_id}/resolve/main/x.safetensors", headers=auth
    ).headers["x-xet-hash"]
    for version, key in (("v1", "fetch_info"), ("v2", "xorbs")):
        plan = httpx.get(
            f"{grant['casUrl']}/{version}/reconstructions/{file_hash}",
            headers={"authorization": f"Bearer {grant['accessToken']}"},
        ).json()
        urls = [fetch["url"] for spans in plan[key].values() for fetch in spans]
        assert urls and all(url.startswith(s3_hub.s3.endpoint) for url in urls)
    keys = s3_hub.object_keys()
    assert any(k.startswith("hub/xet/xorbs/") for k in keys)
    assert any(k.endswith(_sha(data)) and k.startswith("hub/xet/recipes/") for k in keys)
    assert _files_under(s3_hub.data_dir / "xet") == []


def test_git_lfs_push_and_clone(s3_hub: S3Hub, tmp_path: Path) -> None:
    repo_id = s3_hub.api().create_repo(f"alice/{unique('s3')}").repo_id
    env = _git_env(tmp_path)
    host = s3_hub.endpoint.removeprefix("http://")
    remote = f"http://user:{s3_hub.alice}@{host}/{repo_id}"
    work, weights = tmp_path / "work", os.urandom(400_000)
    _git(["clone", remote, str(work)], env)
    (work / "model.safetensors").write_bytes(weights)
    _git(["add", "model.safetensors"], env, work)
    _git(["commit", "-q", "-m", "weights"], env, work)
    _git(["push", "origin", "main"], env, work)
    local = hf_hub_download(
        repo_id, "model.safetensors", endpoint=s3_hub.endpoint, token=s3_hub.alice,
        cache_dir=tmp_path / "hf",
    )  # fmt: skip
    assert Path(local).read_bytes() == weights
    again = tmp_path / "again"
    _git(["clone", remote, str(again)], env)  # git-lfs follows the 302 to the bucket
    assert (again / "model.safetensors").read_bytes() == weights


def _git_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "GIT_TERMINAL_PROMPT": "0",
           "GIT_CONFIG_NOSYSTEM": "1"}  # fmt: skip
    _git(["config", "--global", "user.name", "Alice"], env)
    _git(["config", "--global", "user.email", "alice@example.com"], env)
    _git(["lfs", "install", "--skip-repo"], env)
    return env


def _git(args: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"git {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


def test_the_dataset_viewer_reads_from_the_bucket(s3_hub: S3Hub) -> None:
    api = s3_hub.api()
    repo_id = api.create_repo(f"alice/{unique('s3')}", repo_type="dataset").repo_id
    lines = ["text,label"] + [f"row {i},{i % 3}" for i in range(40)]
    api.upload_file(
        path_or_fileobj="\n".join(lines).encode() + b"\n", path_in_repo="train.csv",
        repo_id=repo_id, repo_type="dataset",
    )  # fmt: skip
    params = {"dataset": repo_id, "config": "default", "split": "train", "offset": 5,
              "length": 2}  # fmt: skip
    rows = _viewer(s3_hub, "rows", params)
    assert [r["row"] for r in rows["rows"]] == [
        {"text": "row 5", "label": 2},
        {"text": "row 6", "label": 0},
    ]
    found = _viewer(s3_hub, "search", {**params, "query": "row 17", "offset": 0})
    assert {"text": "row 17", "label": 2} in [r["row"] for r in found["rows"]]
    assert any(k.startswith("hub/lfs/") for k in s3_hub.object_keys())  # the parquet export


def _viewer(hub: S3Hub, path: str, params: dict[str, Any]) -> Any:
    """An endpoint of the viewer once the background conversion and index are ready."""
    headers = {"authorization": f"Bearer {hub.alice}"}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answer = httpx.get(f"{hub.endpoint}/datasets-server/{path}", params=params,
                           headers=headers, timeout=30)  # fmt: skip
        if answer.status_code != 503:
            assert answer.status_code == 200, answer.text
            return answer.json()
        time.sleep(0.3)
    raise AssertionError(f"{path} was not ready within 120 s")


def _batch(hub: S3Hub, repo_id: str, oid: str, size: int, multipart: bool) -> dict[str, Any]:
    answer = httpx.post(
        f"{hub.endpoint}/{repo_id}.git/info/lfs/objects/batch",
        json={"operation": "upload", "objects": [{"oid": oid, "size": size}],
              "transfers": ["basic", "multipart"] if multipart else ["basic"]},
        headers={"authorization": f"Bearer {hub.alice}",
                 "accept": "application/vnd.git-lfs+json"},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    item: dict[str, Any] = answer.json()["objects"][0]
    return item


def test_wrong_bytes_store_nothing(s3_hub: S3Hub) -> None:
    repo_id = s3_hub.api().create_repo(f"alice/{unique('s3')}").repo_id
    real = os.urandom(2 * CHUNK + 10)
    oid = _sha(real)
    single = _batch(s3_hub, repo_id, oid, len(real), multipart=False)["actions"]["upload"]
    for body in (os.urandom(len(real)), real[:-1], real + b"x"):  # wrong hash, wrong sizes
        answer = httpx.put(single["href"], content=body)
        assert 400 <= answer.status_code < 500 and answer.headers["x-error-message"]
    parts = _batch(s3_hub, repo_id, oid, len(real), multipart=True)["actions"]["upload"]
    forged = bytearray(real)
    forged[0] ^= 0xFF
    for n in (1, 2, 3):
        chunk = bytes(forged[(n - 1) * CHUNK : n * CHUNK])
        assert httpx.put(parts["header"][str(n)], content=chunk).status_code == 200
    done = httpx.post(parts["href"], json={"oid": oid, "parts": []})
    assert 400 <= done.status_code < 500 and done.headers["x-error-message"]
    assert not [key for key in s3_hub.object_keys() if key.endswith(oid)]


def test_with_redirects_off_the_hub_streams_the_bytes(s3_hub: S3Hub, tmp_path: Path) -> None:
    """For clients that cannot reach the bucket: a second hub on the same data and bucket."""
    repo_id = s3_hub.api().create_repo(f"alice/{unique('s3')}").repo_id
    data = os.urandom(300_000)
    _lfs_upload(s3_hub, repo_id, "w.safetensors", data)
    env = {**s3_hub.s3.env(), "HUGBOX_BLOB_URL": f"s3://{s3_hub.bucket}/hub",
           "HUGBOX_BLOB_REDIRECTS": "false", "HUGBOX_JOB_WORKERS": "0"}  # fmt: skip
    with running_hub(s3_hub.data_dir, env=env, log_path=tmp_path / "server.log") as endpoint:
        url = f"{endpoint}/{repo_id}/resolve/main/w.safetensors"
        auth = {"authorization": f"Bearer {s3_hub.alice}"}
        whole = httpx.get(url, headers=auth)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["x-linked-size"] == str(len(data))
        part = httpx.get(url, headers={**auth, "range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == data[100:200]


@pytest.mark.parametrize("order", [(1, 2, 3), (2, 1, 3), (1, 1, 2, 3), (1, 2, 2, 3)])
def test_multipart_parts_in_any_order_or_retried(s3_hub: S3Hub, order: tuple[int, ...]) -> None:
    """In order, the parts stream on to the bucket; out of order or retried, the hub's file
    takes over: the object is stored either way, and only once verified."""
    repo_id = s3_hub.api().create_repo(f"alice/{unique('s3')}").repo_id
    data = os.urandom(2 * CHUNK + 10)
    parts = _batch(s3_hub, repo_id, _sha(data), len(data), multipart=True)["actions"]["upload"]
    for n in order:
        chunk = data[(n - 1) * CHUNK : n * CHUNK]
        assert httpx.put(parts["header"][str(n)], content=chunk).status_code == 200
    done = httpx.post(parts["href"], json={"oid": _sha(data), "parts": []})
    assert done.status_code == 200, done.text
    commit = _lfs_upload(s3_hub, repo_id, "w.bin", data)  # already stored: no bytes needed
    url = f"{s3_hub.endpoint}/{repo_id}/resolve/{commit}/w.bin"
    answer = httpx.get(url, headers={"authorization": f"Bearer {s3_hub.alice}"},
                       follow_redirects=True)  # fmt: skip
    assert answer.content == data


# Direct uploads: with parts of at least 5 MiB (what S3 accepts), huggingface_hub's multipart
# transfer PUTs each part to a presigned URL of the bucket and the hub only completes and checks.
PART = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def direct_hub(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Hub]:
    data_dir = tmp_path_factory.mktemp("s3-direct-hub")
    for user in ("alice", "bob"):
        assert run_cli(data_dir, "user", "create", user, "--password", f"pw-{user}").returncode == 0
    token = create_token(data_dir, "alice", "write")
    bucket = s3.new_bucket()
    env = {**s3.env(), "HUGBOX_BLOB_URL": f"s3://{bucket}/hub",
           "HUGBOX_LFS_MULTIPART_CHUNK_SIZE": str(PART)}  # fmt: skip
    with running_hub(data_dir, env=env, log_path=data_dir / "server.log") as endpoint:
        yield S3Hub(endpoint, data_dir, bucket, s3, token)
    assert b"unhandled error" not in (data_dir / "server.log").read_bytes()


def _put_parts(upload: dict[str, Any], data: bytes) -> list[dict[str, Any]]:
    parts = []
    count = len([key for key in upload["header"] if key.isdigit()])
    for n in range(1, count + 1):
        answer = httpx.put(upload["header"][str(n)], content=data[(n - 1) * PART : n * PART])
        assert answer.status_code == 200, answer.text
        parts.append({"partNumber": n, "etag": answer.headers["etag"]})
    return parts


def test_upload_file_sends_its_parts_straight_to_the_bucket(
    direct_hub: S3Hub, tmp_path: Path
) -> None:
    hub = direct_hub
    repo_id = hub.api().create_repo(f"alice/{unique('s3')}").repo_id
    data = os.urandom(2 * PART + 1234)
    (tmp_path / "multi.bin").write_bytes(data)
    probe = _batch(hub, repo_id, _sha(data), len(data), multipart=True)["actions"]["upload"]
    assert probe["header"]["chunk_size"] == str(PART)
    assert [probe["header"][n].startswith(hub.s3.endpoint) for n in "123"] == [True] * 3
    assert "/api/lfs/s3-multipart/" in probe["href"]
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": hub.alice,
           "HF_HOME": str(tmp_path / "home"), "HF_HUB_DISABLE_XET": "1"}  # fmt: skip
    client = LFS_CLIENT.replace('("small.txt", "single.bin", "multi.bin")', '("multi.bin",)')
    done = subprocess.run(
        [sys.executable, "-c", client, repo_id, str(tmp_path), str(tmp_path / "cache")],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"multi.bin": _sha(data)}
    keys = hub.object_keys()
    assert any(key.endswith(_sha(data)) and key.startswith("hub/lfs/") for key in keys)
    assert not list(hub.data_dir.rglob(f"multipart-{_sha(data)}"))  # no part came to the hub


def test_a_lying_client_is_refused_and_nothing_is_registered(direct_hub: S3Hub) -> None:
    hub = direct_hub
    repo_id = hub.api().create_repo(f"alice/{unique('s3')}").repo_id
    real = os.urandom(PART + 99)
    oid = _sha(real)
    item = _batch(hub, repo_id, oid, len(real), multipart=True)
    upload, verify = item["actions"]["upload"], item["actions"]["verify"]
    parts = _put_parts(upload, os.urandom(len(real)))  # other bytes, announced as `oid`
    done = httpx.post(upload["href"], json={"oid": oid, "parts": parts}, timeout=60)
    assert done.status_code == 400 and "sha256" in done.headers["x-error-message"]
    assert httpx.post(verify["href"], json={"oid": oid, "size": len(real)}).status_code == 404
    assert not [key for key in hub.object_keys() if key.endswith(oid) or "/uploads/" in key]
    lines = [
        {"key": "header", "value": {"summary": "lie", "description": ""}},
        {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid,
                                     "size": len(real)}},
    ]  # fmt: skip
    commit = httpx.post(
        f"{hub.endpoint}/api/models/{repo_id}/commit/main",
        content=b"\n".join(json.dumps(line).encode() for line in lines),
        headers={"authorization": f"Bearer {hub.alice}", "content-type": "application/x-ndjson"},
    )
    assert 400 <= commit.status_code < 500, commit.text
    # The same upload cannot be completed again with the right ETags: its id is spent.
    again = httpx.post(upload["href"], json={"oid": oid, "parts": parts}, timeout=60)
    assert again.status_code == 400


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {**dict(parse_qsl(parts.query)), **changes}
    return parts._replace(query=urlencode(query)).geturl()


def test_a_stranger_cannot_complete_someone_elses_upload(direct_hub: S3Hub) -> None:
    hub = direct_hub
    bob = create_token(hub.data_dir, "bob", "write")
    alices = hub.api().create_repo(f"alice/{unique('s3')}").repo_id
    bobs = HfApi(endpoint=hub.endpoint, token=bob).create_repo(f"bob/{unique('s3')}").repo_id
    data = os.urandom(PART + 7)
    oid = _sha(data)
    upload = _batch(hub, alices, oid, len(data), multipart=True)["actions"]["upload"]
    parts = _put_parts(upload, data)
    body = {"oid": oid, "parts": parts}
    bob_hub = S3Hub(hub.endpoint, hub.data_dir, hub.bucket, hub.s3, bob)
    own = _batch(bob_hub, bobs, oid, len(data), multipart=True)["actions"]["upload"]
    alice_query = _query(upload["href"])
    stolen = _with_query(own["href"], upload=alice_query["upload"], uid=alice_query["uid"])
    forged_user = _with_query(upload["href"], user=_query(own["href"])["user"])
    expired = _with_query(upload["href"], exp="1")
    for url in (stolen, forged_user, expired, _with_query(upload["href"], sig="0" * 64)):
        answer = httpx.post(url, json=body, headers={"authorization": f"Bearer {bob}"})
        assert answer.status_code == 403 and answer.headers["x-error-message"], answer.text
    bare = httpx.post(f"{hub.endpoint}/api/lfs/s3-multipart/{oid}", json=body)
    assert bare.status_code in (400, 422) and bare.headers["x-error-message"]
    assert not [key for key in hub.object_keys() if key.endswith(oid)]
    for malformed in (b"not json", b"{}", json.dumps({"parts": parts[:0]}).encode()):
        answer = httpx.post(upload["href"], content=malformed)
        assert answer.status_code == 400 and answer.headers["x-error-message"]
    done = httpx.post(upload["href"], json=body, timeout=60)  # alice's own URL still works
    assert done.status_code == 200, done.text
    assert done.json() == {"oid": oid, "size": len(data)}


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))
