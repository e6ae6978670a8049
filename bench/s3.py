"""Large files on S3 (HUGBOX_BLOB_URL): the hub against the bucket itself, on the same server.

* upload: `upload_file` of one large LFS file through the hub (LFS multipart, Xet off: the parts
  go to presigned URLs of the bucket, the hub completes the upload, reads it back to check its
  sha256 and copies it to its content address) against boto3's `upload_file` of the same file
  to the same bucket (target: at most 1.5x the time);
* download: `hf_hub_download` through the hub, which answers 302 to a presigned URL, against
  huggingface_hub's own `http_get` of a presigned URL straight from the bucket (>= 0.9x);
* the hub's CPU seconds per GiB downloaded, redirecting against streaming the bytes itself
  (`HUGBOX_BLOB_REDIRECTS=false`) (target: at most 2 %). A hub costs CPU when idle too (its
  event loop, job polling, the spaces host: ~20 ms a second here), which a redirected download
  only waits through: the row reports the CPU over the downloads less the idle rate measured
  just before, with the total beside it.

The server is moto in this process, or the S3 server S3_ENDPOINT names (S3_ACCESS_KEY,
S3_SECRET_KEY; `.ci/ceph-rgw.sh` starts a Ceph RGW). 256 MiB by default; HUGBOX_BENCH_S3_MIB
sets the size (1024 for the issue's 1 GiB), HUGBOX_BENCH_S3_ROUNDS the upload rounds (3),
HUGBOX_BENCH_S3_DOWNLOAD_ROUNDS the download rounds (5);
HUGBOX_BENCH_S3_DIRECT=false sends the parts through the hub instead (the path before direct
uploads).

Measure uploads on a real server: moto copies the bytes in Python for CompleteMultipartUpload and
CopyObject (4-5 s each per 256 MiB on a busy 2-core machine), where Ceph RGW copies a manifest
(0.07 s per GiB). 1 GiB on RGW: direct 9.2 s against boto3 10.0 s (0.92x), through the hub 23.8 s
against 10.8 s (2.2x); 256 MiB on moto's server: direct 16.5 s against 9.2 s (1.79x).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from common import (
    BENCH_USER,
    MIB,
    Hub,
    Result,
    Workspace,
    cpu_seconds,
    log,
    make_payload,
    mib_per_s,
    remove_tree,
    run_python,
    running_hub,
    seed_user,
)

REPO_ID = f"{BENCH_USER}/s3-model"
FILENAME = "model.bin"  # LFS by the default .gitattributes
UPLOAD_TARGET, DOWNLOAD_TARGET, CPU_TARGET = 1.5, 0.9, 0.02
IDLE_S, SETTLE_S = 5.0, 2.0
UPLOAD = """
import json, sys, time
from huggingface_hub import HfApi
api = HfApi()
api.create_repo(sys.argv[1], exist_ok=True)
started = time.perf_counter()
api.upload_file(path_or_fileobj=sys.argv[2], path_in_repo=sys.argv[3], repo_id=sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - started}))
"""
BOTO_UPLOAD = """
import json, os, sys, time
import boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
started = time.perf_counter()
s3.upload_file(sys.argv[1], sys.argv[2], sys.argv[3])
print(json.dumps({"seconds": time.perf_counter() - started}))
"""
DOWNLOAD = """
import json, os, sys, time
from huggingface_hub import hf_hub_download
started = time.perf_counter()
path = hf_hub_download(sys.argv[1], sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - started, "size": os.path.getsize(path)}))
"""
DIRECT = """
import json, os, sys, time
from huggingface_hub.file_download import http_get
started = time.perf_counter()
with open(sys.argv[2], "wb") as out:
    http_get(sys.argv[1], out)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "size": os.path.getsize(sys.argv[2])}))
os.unlink(sys.argv[2])
"""


@dataclass(frozen=True)
class Bucket:
    name: str
    env: dict[str, str]  # AWS_* for the hub and the clients

    def empty(self) -> None:
        """A real server (Ceph RGW's memstore) keeps what a run stored: leave nothing."""
        client = self.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.name):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=self.name, Key=item["Key"])
        client.delete_bucket(Bucket=self.name)

    def client(self):  # type: ignore[no-untyped-def]  # boto3 ships no types
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.env["AWS_ENDPOINT_URL"], region_name=self.env["AWS_REGION"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )  # fmt: skip


@contextmanager
def _s3_server() -> Iterator[dict[str, str]]:
    region = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    if os.environ.get("S3_ENDPOINT"):
        yield {"AWS_ENDPOINT_URL": os.environ["S3_ENDPOINT"], **region,
               "AWS_ACCESS_KEY_ID": os.environ.get("S3_ACCESS_KEY", "test"),
               "AWS_SECRET_ACCESS_KEY": os.environ.get("S3_SECRET_KEY", "testtest")}  # fmt: skip
        return
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield {"AWS_ENDPOINT_URL": f"http://{host}:{port}", **region,
               "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}  # fmt: skip
    finally:
        server.stop()


def _seconds(code: str, args: list[str], env: dict[str, str], size: int) -> float:
    out = run_python(code, args, env, 1800)
    if "size" in out and out["size"] != size:
        raise RuntimeError(f"the client wrote {out['size']} bytes, expected {size}")
    return float(out["seconds"])


def _uploads(hub: Hub, bucket: Bucket, token: str, payload: Path, rounds: int) -> dict:
    client = {**bucket.env, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": token,
              "HF_HUB_DISABLE_XET": "1", "HF_HOME": str(hub.data_dir / "client")}  # fmt: skip
    times: dict[str, list[float]] = {"hub": [], "boto3": []}
    for index in range(rounds):
        # Each round a new repo path and key, so neither side finds the bytes already there
        # (the hub would answer "already stored" to a second upload of the same file).
        repo = f"{REPO_ID}-{index}"
        times["hub"].append(_seconds(UPLOAD, [repo, str(payload), FILENAME], client, 0))
        key = f"baseline/{uuid.uuid4().hex}"
        times["boto3"].append(_seconds(BOTO_UPLOAD, [str(payload), bucket.name, key], client, 0))
        bucket.client().delete_object(Bucket=bucket.name, Key=key)  # RGW's memstore is RAM
        log(f"  upload round {index + 1}: hub {times['hub'][-1]:.1f} s, "
            f"boto3 {times['boto3'][-1]:.1f} s")  # fmt: skip
        # Another round stores the payload again under a new oid: change its last byte.
        with payload.open("r+b") as handle:
            handle.seek(-1, os.SEEK_END)
            handle.write(os.urandom(1))
    return times


@dataclass(frozen=True)
class HubCpu:
    """The hub's CPU seconds over a set of downloads, and what it would have spent idle."""

    total: float
    idle: float

    @property
    def net(self) -> float:
        return max(self.total - self.idle, 0.0)


def _idle_cpu_rate(hub: Hub, seconds: float = IDLE_S) -> float:
    """The hub's CPU seconds per second while nothing calls it, once what the last calls left
    (a counter's flush, say) has settled."""
    time.sleep(SETTLE_S)
    before = cpu_seconds(hub.pid, children=True)
    time.sleep(seconds)
    return (cpu_seconds(hub.pid, children=True) - before) / seconds


def _downloads(
    hub: Hub, bucket: Bucket, size: int, rounds: int
) -> tuple[dict[str, list[float]], HubCpu]:
    """Seconds per download through the hub and straight from a presigned URL, which goes
    first alternating round by round (so that neither side always follows the other's
    gigabyte written and deleted), and the hub's CPU over its downloads."""
    client = {**bucket.env, "HF_ENDPOINT": hub.endpoint}
    repo = f"{REPO_ID}-0"
    url = _presigned(bucket, hub, repo)
    times: dict[str, list[float]] = {"hub": [], "direct": []}
    cpu, busy = 0.0, 0.0
    for index in range(rounds):
        for side in ("hub", "direct") if index % 2 == 0 else ("direct", "hub"):
            if side == "direct":
                target = str(hub.data_dir / "direct.bin")
                times["direct"].append(_seconds(DIRECT, [url, target], client, size))
                continue
            home = {**client, "HF_HOME": str(hub.data_dir / f"hf-home-{index}")}
            before, started = cpu_seconds(hub.pid, children=True), time.perf_counter()
            times["hub"].append(_seconds(DOWNLOAD, [repo, FILENAME], home, size))
            cpu += cpu_seconds(hub.pid, children=True) - before
            busy += time.perf_counter() - started
            remove_tree(hub.data_dir / f"hf-home-{index}")
        log(f"  download round {index + 1}: hub {mib_per_s(size, times['hub'][-1]):.0f} MiB/s, "
            f"direct {mib_per_s(size, times['direct'][-1]):.0f} MiB/s")  # fmt: skip
    idle = busy * _idle_cpu_rate(hub)
    log(f"  hub CPU over the downloads {cpu:.3f} s, of which idle {idle:.3f} s "
        f"({idle / busy * 1000:.0f} ms a second)")  # fmt: skip
    return times, HubCpu(cpu, idle)


def _presigned(bucket: Bucket, hub: Hub, repo: str) -> str:
    import httpx

    head = httpx.head(f"{hub.endpoint}/{repo}/resolve/main/{FILENAME}", timeout=30)
    if head.status_code != 302:
        raise RuntimeError(f"the hub answered {head.status_code}, not a redirect")
    return head.headers["location"]


def _results(size: int, up: dict, down: dict, per_gib: dict[str, float]) -> list[Result]:
    """The table's rows; `per_gib`: the hub's CPU seconds per GiB downloaded (less idle)."""
    label = f"{size // MIB} MiB"
    server = "S3_ENDPOINT" if os.environ.get("S3_ENDPOINT") else "moto server"
    note = (
        f"S3 upload on {server}: hub {', '.join(f'{t:.1f}' for t in up['hub'])} s, boto3 "
        f"{', '.join(f'{t:.1f}' for t in up['boto3'])} s; the hub's time includes its checking "
        "read-back and the copy to the content address"
    )
    up_ratio = min(up["hub"]) / min(up["boto3"])
    down_ratio = min(down["direct"]) / min(down["hub"])
    total = per_gib["redirect_total"]
    cpu_ratio = per_gib["redirect"] / per_gib["stream"] if per_gib["stream"] else None
    return [
        Result(
            f"S3 upload {label}, upload_file (LFS)", f"{min(up['hub']):.1f} s",
            f"boto3 {min(up['boto3']):.1f} s", up_ratio, f"<= {UPLOAD_TARGET}x (time)",
            up_ratio <= UPLOAD_TARGET, note=note,
        ),
        Result(
            f"S3 download {label}, hf_hub_download (302)",
            f"{mib_per_s(size, min(down['hub'])):.0f} MiB/s",
            f"presigned GET {mib_per_s(size, min(down['direct'])):.0f} MiB/s", down_ratio,
            f">= {DOWNLOAD_TARGET}x", down_ratio >= DOWNLOAD_TARGET,
        ),
        Result(
            "S3 hub CPU per GiB downloaded, 302, less idle", f"{per_gib['redirect']:.3f} s",
            f"streamed {per_gib['stream']:.2f} s", cpu_ratio, f"<= {CPU_TARGET:.2f}x",
            cpu_ratio is not None and cpu_ratio <= CPU_TARGET,
            note=f"hub CPU per GiB over the 302 downloads, idle included: {total:.3f} s "
            f"({total / per_gib['stream'] * 100:.1f} % of streaming)" if per_gib["stream"] else "",
        ),
    ]  # fmt: skip


def run(ws: Workspace) -> list[Result]:
    size = int(os.environ.get("HUGBOX_BENCH_S3_MIB", "128" if ws.quick else "256")) * MIB
    rounds = int(os.environ.get("HUGBOX_BENCH_S3_ROUNDS", "3"))
    down_rounds = int(os.environ.get("HUGBOX_BENCH_S3_DOWNLOAD_ROUNDS", "5"))
    data_dir = ws.root / "s3-hub"
    data_dir.mkdir()
    payload = ws.root / "s3-payload.bin"
    make_payload(payload, size)
    try:
        with _s3_server() as env:
            bucket = Bucket(f"bench-{uuid.uuid4().hex[:12]}", env)
            bucket.client().create_bucket(Bucket=bucket.name)
            token = seed_user(data_dir)
            direct = os.environ.get("HUGBOX_BENCH_S3_DIRECT", "true")
            hub_env = {**env, "HUGBOX_BLOB_URL": f"s3://{bucket.name}/hub",
                       "HUGBOX_BLOB_DIRECT_UPLOADS": direct}  # fmt: skip
            with running_hub(data_dir, env=hub_env) as hub:
                log(f"s3: {rounds} upload rounds of {size // MIB} MiB, hub vs boto3")
                up = _uploads(hub, bucket, token, payload, rounds)
                down, redirect_cpu = _downloads(hub, bucket, size, down_rounds)
            with running_hub(data_dir, env={**hub_env, "HUGBOX_BLOB_REDIRECTS": "false"}) as hub:
                streamed, stream_cpu = _downloads_streamed(hub, bucket, size, rounds)
            bucket.empty()
    finally:
        remove_tree(data_dir)
        payload.unlink(missing_ok=True)
    gib = size / 1024**3
    cpu = {"redirect": redirect_cpu.net / (gib * len(down["hub"])),
           "stream": stream_cpu.net / (gib * len(streamed)),
           "redirect_total": redirect_cpu.total / (gib * len(down["hub"]))}  # fmt: skip
    return _results(size, up, down, cpu)


def _downloads_streamed(
    hub: Hub, bucket: Bucket, size: int, rounds: int
) -> tuple[list[float], HubCpu]:
    """As `_downloads`, through a hub that streams the bytes itself (idle CPU taken off alike)."""
    client = {**bucket.env, "HF_ENDPOINT": hub.endpoint}
    times: list[float] = []
    cpu = 0.0
    for index in range(rounds):
        home = {**client, "HF_HOME": str(hub.data_dir / f"hf-stream-{index}")}
        before = cpu_seconds(hub.pid, children=True)
        times.append(_seconds(DOWNLOAD, [f"{REPO_ID}-0", FILENAME], home, size))
        cpu += cpu_seconds(hub.pid, children=True) - before
        remove_tree(hub.data_dir / f"hf-stream-{index}")
        log(f"  streamed round {index + 1}: {mib_per_s(size, times[-1]):.0f} MiB/s")
    return times, HubCpu(cpu, sum(times) * _idle_cpu_rate(hub))
