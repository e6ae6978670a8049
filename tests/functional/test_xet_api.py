"""The Xet CAS in process: token scoping, a hand-made upload, reconstruction plans, stats and GC."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from webpages import new_token

from hugbox.auth.models import TokenRole
from hugbox.db import Database
from hugbox.settings import Settings
from hugbox.xet import maintenance
from hugbox.xet.blobs import open_blob_store
from xet_wire import FileEntry, shard, xorb


def _headers(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _create(client: TestClient, token: str, name: str) -> None:
    body = {"name": name, "organization": "alice"}
    assert client.post("/api/repos/create", json=body, headers=_headers(token)).is_success


def _grant(client: TestClient, token: str, kind: str, query: str = "") -> Any:
    return client.get(f"/api/models/alice/r/xet-{kind}-token/main{query}", headers=_headers(token))


def _cas(grant: dict[str, Any]) -> tuple[str, dict[str, str]]:
    path = grant["casUrl"].split("://", 1)[1].split("/", 1)[1]
    return f"/{path}", _headers(grant["accessToken"])


def test_write_tokens_need_write_access_or_a_pull_request(
    client: TestClient, token: str, settings: Settings
) -> None:
    _create(client, token, "r")
    response = _grant(client, token, "write")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"casUrl", "accessToken", "exp"}
    assert response.headers["x-xet-cas-url"] == body["casUrl"]
    assert response.headers["x-xet-token-expiration"] == str(body["exp"])
    # A read token only reads, even its repo owner's; a write token of someone who may only
    # read the repo uploads for a pull request.
    reader = new_token(settings.sqlalchemy_url, "alice", TokenRole.READ)
    assert _grant(client, reader, "write").status_code == 403
    assert _grant(client, reader, "write", "?create_pr=1").status_code == 403
    assert _grant(client, reader, "read").status_code == 200
    stranger = new_token(settings.sqlalchemy_url, "bob", TokenRole.WRITE)
    assert _grant(client, stranger, "write").status_code == 403
    assert _grant(client, stranger, "write", "?create_pr=1").status_code == 200
    missing = client.get("/api/models/alice/nope/xet-read-token/main", headers=_headers(token))
    assert missing.status_code == 404


def _upload(client: TestClient, token: str, chunks: list[bytes]) -> tuple[str, str]:
    """Upload one file made of `chunks` through the CAS and commit it as w.bin."""
    base, headers = _cas(_grant(client, token, "write").json())
    name, body = xorb(chunks)
    stored = client.post(f"{base}/v1/xorbs/default/{name}", content=body, headers=headers)
    assert stored.json() == {"was_inserted": True}
    sha = hashlib.sha256(b"".join(chunks)).hexdigest()
    entry = shard([FileEntry(name, chunks, sha)])
    assert client.post(f"{base}/v1/shards", content=entry, headers=headers).status_code == 200
    lfs = {"path": "w.bin", "algo": "sha256", "oid": sha}
    _commit(client, token, [{"key": "lfsFile", "value": lfs}])
    return name, sha


def _commit(client: TestClient, token: str, operations: list[dict[str, Any]]) -> None:
    lines = [{"key": "header", "value": {"summary": "w", "description": ""}}, *operations]
    body = b"\n".join(json.dumps(line).encode() for line in lines)
    headers = {**_headers(token), "content-type": "application/x-ndjson"}
    commit = client.post("/api/models/alice/r/commit/main", content=body, headers=headers)
    assert commit.status_code == 200, commit.text


def test_reconstruction_serves_ranges_of_the_upload(client: TestClient, token: str) -> None:
    _create(client, token, "r")
    chunks = [os.urandom(10_000), os.urandom(20_000), os.urandom(30_000)]
    data = b"".join(chunks)
    _upload(client, token, chunks)
    head = client.head("/alice/r/resolve/main/w.bin", headers=_headers(token))
    file_hash = head.headers["x-xet-hash"]
    tree = client.get("/api/models/alice/r/tree/main", headers=_headers(token)).json()
    assert [e.get("xetHash") for e in tree if e["path"] == "w.bin"] == [file_hash]
    base, headers = _cas(_grant(client, token, "read").json())
    plan = client.get(
        f"{base}/v1/reconstructions/{file_hash}", headers={**headers, "range": "bytes=15000-35000"}
    ).json()
    assert plan["offset_into_first_range"] == 5000
    assert [t["range"] for t in plan["terms"]] == [{"start": 1, "end": 3}]
    [fetch] = plan["fetch_info"][plan["terms"][0]["hash"]]
    start, end = fetch["url_range"]["start"], fetch["url_range"]["end"]
    url = fetch["url"].split("://", 1)[1].split("/", 1)[1]
    assert client.get(f"/{url}").status_code == 403  # only with the Range it was signed for
    got = client.get(f"/{url}", headers={"range": f"bytes={start}-{end}"})
    assert got.status_code == 206 and len(got.content) == end - start + 1
    assert got.content[8:20_008] == data[10_000:30_000]  # the second chunk, stored uncompressed
    past = client.get(
        f"{base}/v2/reconstructions/{file_hash}",
        headers={**headers, "range": f"bytes={len(data)}-"},
    )
    assert past.status_code == 416


def test_a_xet_file_is_stored_once_and_served_decoded(
    client: TestClient, token: str, settings: Settings
) -> None:
    _create(client, token, "r")
    chunks = [os.urandom(3000), b"z" * 5000]
    _name, sha = _upload(client, token, chunks)
    data = b"".join(chunks)
    blobs = open_blob_store(settings.blobs_dir, settings.xet_dir)
    assert (blobs.local_path(sha), blobs.size(sha)) == (None, len(data))  # no second copy
    url = "/alice/r/resolve/main/w.bin"
    full = client.get(url)
    assert full.content == data and full.headers["x-xet-hash"]
    part = client.get(url, headers={"range": "bytes=2990-3009"})
    assert (part.status_code, part.content) == (206, data[2990:3010])
    assert part.headers["content-range"] == f"bytes 2990-3009/{len(data)}"
    head = client.head(url)
    assert (head.headers["content-length"], head.content) == (str(len(data)), b"")
    past = client.get(url, headers={"range": f"bytes={len(data)}-"})
    assert past.status_code == 416


def test_stats_and_gc_keep_what_repos_hold(
    client: TestClient, token: str, settings: Settings
) -> None:
    _create(client, token, "r")
    _name, sha = _upload(client, token, [os.urandom(4000)])
    base, headers = _cas(_grant(client, token, "write").json())
    abandoned, body = xorb([os.urandom(3000)])  # uploaded, never named by a shard
    client.post(f"{base}/v1/xorbs/default/{abandoned}", content=body, headers=headers)
    database = Database(settings.sqlalchemy_url)
    blobs = open_blob_store(settings.blobs_dir, settings.xet_dir)
    later = datetime.now(UTC) + timedelta(days=31)
    with database.session() as session:
        stats = maintenance.storage_stats(session)
        assert (stats.xorbs, stats.files, stats.logical_bytes) == (2, 1, 4000)
        [repo] = stats.repos
        assert (repo.repo_id, repo.logical_bytes, repo.stored_bytes) == ("alice/r", 4000, 4008)
        assert maintenance.collect_garbage(session, blobs).xorbs == []  # touched too recently
        assert maintenance.collect_garbage(session, blobs, now=later).xorbs == [abandoned]
    body = {"name": "r", "organization": "alice", "type": "model"}
    assert client.request(
        "DELETE", "/api/repos/delete", json=body, headers=_headers(token)
    ).is_success
    with database.session() as session:
        # The repo's file is forgotten, but its recipe still names its sha256 in the store
        # (deleting a repo frees no object of that store): its xorb stays.
        collected = maintenance.collect_garbage(session, blobs, now=later)
        assert (collected.files, collected.xorbs) == (1, [])
        assert maintenance.storage_stats(session).files == 0
    assert blobs.size(sha) == 4000
    database.close()


def test_a_claim_on_bytes_already_stored_is_checked(client: TestClient, token: str) -> None:
    """Someone else's sha256 (its bytes are in the store already) cannot name other content."""
    _create(client, token, "r")
    victim = os.urandom(3000)
    encoded = base64.b64encode(victim).decode()
    inline = {"path": "v.bin", "content": encoded, "encoding": "base64"}
    _commit(client, token, [{"key": "file", "value": inline}])
    base, headers = _cas(_grant(client, token, "write").json())
    chunks = [os.urandom(3000)]
    name, xorb_body = xorb(chunks)
    client.post(f"{base}/v1/xorbs/default/{name}", content=xorb_body, headers=headers)
    lie = shard([FileEntry(name, chunks, hashlib.sha256(victim).hexdigest())])
    assert client.post(f"{base}/v1/shards", content=lie, headers=headers).status_code == 400
    honest = shard([FileEntry(name, chunks, hashlib.sha256(chunks[0]).hexdigest())])
    assert client.post(f"{base}/v1/shards", content=honest, headers=headers).status_code == 200
