"""Xet: upload of a safetensors file through hugbox's CAS against a plain HTTP PUT to a minimal
Starlette endpoint, the bytes a re-upload with 5 % changed sends, and a Xet download against
nginx serving the same file on loopback.

The upload is also measured against the stock client's own floor: the same upload to a hub that
reads every body and keeps nothing (null_cas.py), which shows what hugbox adds to the time the
client needs anyway on this machine. Every client runs in a fresh interpreter (only the
transfer is timed) with its own HF_HOME, so the client's local Xet cache is cold unless a run
says otherwise.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common import (
    BENCH_USER,
    MIB,
    PYTHON,
    Hub,
    Result,
    Workspace,
    clean_env,
    free_port,
    hugbox_cli,
    log,
    mib_per_s,
    remove_tree,
    run_python,
    running_hub,
    seed_user,
    stop_process,
    wait_ready,
)
from hugbox.settings import Settings
from hugbox.xet.blobs import open_blob_store
from nginx import ServedFile, running_nginx

REPO_ID = f"{BENCH_USER}/xet-model"
FILENAME = "model.safetensors"
UPLOAD_TARGET = 1.5  # Xet upload time <= 1.5x the plain PUT
RESEND_TARGET = 0.10  # bytes sent for a 5 % change <= 10 % of the file
DOWNLOAD_TARGET = 0.7  # Xet download rate >= 0.7x nginx

UPLOAD = """
import json, sys, time
from huggingface_hub import HfApi
endpoint, token, repo_id, path = sys.argv[1:]
api = HfApi(endpoint=endpoint, token=token)
api.create_repo(repo_id, exist_ok=True)
started = time.perf_counter()
api.upload_file(path_or_fileobj=path, path_in_repo="model.safetensors", repo_id=repo_id)
print(json.dumps({"seconds": time.perf_counter() - started}))
"""
PUT = """
import json, sys, time, httpx
url, path = sys.argv[1:]
def body():
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            yield chunk
started = time.perf_counter()
httpx.put(url, content=body(), timeout=600).raise_for_status()
print(json.dumps({"seconds": time.perf_counter() - started}))
"""
PUT_SERVER = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
port, target = int(sys.argv[1]), sys.argv[2]
async def put(request):
    with open(target, "wb") as handle:
        async for chunk in request.stream():
            handle.write(chunk)
    return Response(status_code=200)
app = Starlette(routes=[Route("/upload", put, methods=["PUT"])])
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
"""
DOWNLOAD = """
import json, os, sys, time
from huggingface_hub import hf_hub_download
started = time.perf_counter()
path = hf_hub_download(sys.argv[1], sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - started, "size": os.path.getsize(path)}))
"""


def make_safetensors(path: Path, size: int) -> None:
    """A safetensors file of float32 weights (normally distributed, like a checkpoint's)."""
    count = (size - 1024) // 4
    header = json.dumps(
        {"weight": {"dtype": "F32", "shape": [count], "data_offsets": [0, count * 4]}}
    ).encode()
    header += b" " * (-len(header) % 8)
    rng = np.random.default_rng(0)
    with path.open("wb") as handle:
        handle.write(len(header).to_bytes(8, "little") + header)
        for start in range(0, count, 8 * MIB):
            n = min(8 * MIB, count - start)
            handle.write((rng.standard_normal(n, dtype=np.float32) * 0.02).tobytes())


def change_5_percent(src: Path, dest: Path) -> None:
    """Rewrite 5 % of the weights as a fine-tune would: whole 1 MiB blocks, spread evenly (new
    random bytes on every call, so two copies share nothing that the original does not)."""
    data = bytearray(src.read_bytes())
    blocks = max(1, len(data) // 20 // MIB)
    step = len(data) // blocks
    for i in range(blocks):
        start = i * step + step // 2
        data[start : start + MIB] = os.urandom(MIB)
    dest.write_bytes(data)


def _put_seconds(ws: Workspace, payload: Path) -> float:
    import subprocess

    port, target = free_port(), ws.root / "put-target"
    server = subprocess.Popen([PYTHON, "-c", PUT_SERVER, str(port), str(target)], env=clean_env({}))
    try:
        time.sleep(2)
        os.sync()
        out = run_python(PUT, [f"http://127.0.0.1:{port}/upload", str(payload)], {}, 600)
        return float(out["seconds"])
    finally:
        stop_process(server)
        target.unlink(missing_ok=True)


def _upload(hub: Hub, token: str, path: Path, home: Path) -> float:
    return _upload_to(hub.endpoint, token, path, home)


def _upload_to(endpoint: str, token: str, path: Path, home: Path) -> float:
    os.sync()
    out = run_python(UPLOAD, [endpoint, token, REPO_ID, str(path)], {"HF_HOME": str(home)}, 900)
    return float(out["seconds"])


def _floor_seconds(ws: Workspace, payload: Path) -> float:
    """The stock client uploading to a hub that keeps nothing (null_cas.py)."""
    import subprocess

    port = free_port()
    script = Path(__file__).with_name("null_cas.py")
    server = subprocess.Popen([PYTHON, str(script), str(port)], env=clean_env({}))
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", what="null CAS", process=server)
        return _upload_to(f"http://127.0.0.1:{port}", "hf_floor", payload, ws.root / "home-f")
    finally:
        stop_process(server)
        remove_tree(ws.root / "home-f")


def _received(hub: Hub) -> int:
    """Xorb bytes the hub has received so far (its log records each upload)."""
    text = (hub.data_dir / "server.log").read_text()
    return sum(int(n) for n in re.findall(r"xorb [0-9a-f]{64}: (\d+) bytes received", text))


def _stats(hub: Hub) -> dict:
    stats: dict = json.loads(hugbox_cli(hub.data_dir, "storage", "stats", "--format", "json"))
    return stats


def _download_seconds(endpoint: str, home: Path, size: int, xet: bool = True) -> float:
    os.sync()
    env = {"HF_ENDPOINT": endpoint, "HF_HOME": str(home)}
    if not xet:
        env["HF_HUB_DISABLE_XET"] = "1"
    try:
        out = run_python(DOWNLOAD, [REPO_ID, FILENAME], env, 600)
    finally:
        remove_tree(home)
    if out["size"] != size:
        raise RuntimeError(f"downloaded {out['size']} bytes, expected {size}")
    return float(out["seconds"])


def _served(hub: Hub, size: int, dest: Path) -> ServedFile:
    """The uploaded file as nginx serves it: hugbox keeps it only as a recipe over its xorbs,
    so a plain copy is written out first (read through hugbox's own store)."""
    import shutil

    import httpx

    head = httpx.head(f"{hub.endpoint}/{REPO_ID}/resolve/main/{FILENAME}", timeout=30)
    head.raise_for_status()
    oid = head.headers["x-linked-etag"].strip('"')
    settings = Settings(data_dir=hub.data_dir)
    blobs = open_blob_store(settings.blobs_dir, settings.xet_dir)
    assert blobs.local_path(oid) is None and head.headers.get("x-xet-hash"), "not a Xet file"
    with blobs.open(oid) as source, dest.open("wb") as sink:
        shutil.copyfileobj(source, sink, MIB)
    return ServedFile(
        f"/{REPO_ID}/resolve/main/{FILENAME}", dest, head.headers["x-repo-commit"], oid, size
    )


def _downloads(ws: Workspace, hub: Hub, found: Measured, rounds: int) -> None:
    """Through Xet, from nginx, and over plain `resolve` (hugbox decoding the xorbs as it
    sends them), in turns."""
    size = found.size
    served = _served(hub, size, ws.root / "xet-nginx.bin")
    with running_nginx(ws.root / "xet-nginx", served) as nginx:
        for i in range(rounds):
            seconds = _download_seconds(hub.endpoint, ws.root / f"dx{i}", size)
            found.xet_rates.append(mib_per_s(size, seconds))
            seconds = _download_seconds(nginx, ws.root / f"dn{i}", size)
            found.nginx_rates.append(mib_per_s(size, seconds))
            seconds = _download_seconds(hub.endpoint, ws.root / f"dp{i}", size, xet=False)
            found.decoded_rates.append(mib_per_s(size, seconds))
            rates = (found.xet_rates[-1], found.nginx_rates[-1], found.decoded_rates[-1])
            log(
                "  download round {}: xet {:.0f}, nginx {:.0f}, resolve {:.0f} MiB/s".format(
                    i + 1, *rates
                )
            )


@dataclass
class Measured:
    size: int
    put: list[float] = field(default_factory=list)  # seconds, each upload to a fresh server
    floor: list[float] = field(default_factory=list)
    xet: list[float] = field(default_factory=list)
    warm: int = 0  # xorb bytes a re-upload sent
    cold: int = 0
    stats: dict = field(default_factory=dict)
    xet_rates: list[float] = field(default_factory=list)  # MiB/s
    nginx_rates: list[float] = field(default_factory=list)
    decoded_rates: list[float] = field(default_factory=list)  # plain resolve of the Xet file


def _fresh_upload(ws: Workspace, payload: Path, name: str) -> float:
    """Seconds of one upload to a new hub (a second upload to the same hub would dedup)."""
    data_dir = ws.root / name
    data_dir.mkdir()
    try:
        token = seed_user(data_dir)
        with running_hub(data_dir, log_level="info") as hub:
            return _upload(hub, token, payload, ws.root / f"{name}-home")
    finally:
        remove_tree(data_dir)
        remove_tree(ws.root / f"{name}-home")


def _upload_times(ws: Workspace, payload: Path, found: Measured, rounds: int) -> None:
    """The plain PUT, the client's floor and hugbox, taken in turns so noise hits all three."""
    for i in range(rounds):
        found.put.append(_put_seconds(ws, payload))
        found.floor.append(_floor_seconds(ws, payload))
        found.xet.append(_fresh_upload(ws, payload, f"xet-hub-{i}"))
        log(f"  upload round {i + 1}: plain PUT {found.put[-1]:.2f} s, client floor "
            f"{found.floor[-1]:.2f} s, hugbox {found.xet[-1]:.2f} s")  # fmt: skip


def _reuploads_and_downloads(ws: Workspace, files: list[Path], found: Measured) -> None:
    """One hub: the file, a changed copy from the same client cache, another from a cold one."""
    data_dir = ws.root / "xet-hub"
    data_dir.mkdir()
    try:
        token = seed_user(data_dir)
        with running_hub(data_dir, log_level="info") as hub:
            _upload(hub, token, files[0], ws.root / "home-a")
            before = _received(hub)
            _upload(hub, token, files[1], ws.root / "home-a")  # warm client cache
            found.warm = _received(hub) - before
            before = _received(hub)
            _upload(hub, token, files[2], ws.root / "home-b")  # cold cache: server dedup
            found.cold = _received(hub) - before
            found.stats = _stats(hub)
            _downloads(ws, hub, found, 3)
    finally:
        remove_tree(data_dir)


def run(ws: Workspace) -> list[Result]:
    payload = ws.root / "xet-model.safetensors"
    changed = [ws.root / f"xet-changed-{i}.safetensors" for i in (1, 2)]
    log(f"xet: writing a {ws.size // MIB} MiB safetensors file and two copies with 5 % changed")
    make_safetensors(payload, ws.size)
    for copy in changed:
        change_5_percent(payload, copy)
    found = Measured(payload.stat().st_size)
    try:
        _upload_times(ws, payload, found, 1 if ws.quick else 3)
        _reuploads_and_downloads(ws, [payload, *changed], found)
    finally:
        for path in (payload, *changed):
            path.unlink(missing_ok=True)
    return _results(found)


def _results(found: Measured) -> list[Result]:
    size = found.size
    label = f"{size // MIB} MiB safetensors"
    xet_up, put, floor = min(found.xet), min(found.put), min(found.floor)
    dl_ratio = max(found.xet_rates) / max(found.nginx_rates)
    return [
        Result(
            f"xet upload {label}",
            f"{xet_up:.2f} s ({mib_per_s(size, xet_up):.0f} MiB/s)",
            f"plain PUT {put:.2f} s",
            xet_up / put,
            f"<= {UPLOAD_TARGET}x",
            xet_up / put <= UPLOAD_TARGET,
        ),
        Result(
            f"xet upload {label}, against the client's floor",
            f"{xet_up:.2f} s",
            f"null CAS {floor:.2f} s",
            xet_up / floor,
            "(info)",
            note=f"client floor: the stock client uploading to a hub that keeps nothing "
            f"(bench/null_cas.py) takes {floor / put:.2f}x the plain PUT on this machine",
        ),
        Result(
            "xet re-upload, 5 % changed (warm client cache)",
            f"{found.warm / 1e6:.1f} MB sent",
            f"file {size / 1e6:.0f} MB",
            found.warm / size,
            f"<= {RESEND_TARGET:.2f}x",
            found.warm / size <= RESEND_TARGET,
        ),
        Result(
            "xet re-upload, 5 % changed (cold cache, server dedup)",
            f"{found.cold / 1e6:.1f} MB sent",
            f"file {size / 1e6:.0f} MB",
            found.cold / size,
            f"<= {RESEND_TARGET:.2f}x",
            found.cold / size <= RESEND_TARGET,
        ),
        Result(
            f"xet download {label}",
            f"{max(found.xet_rates):.0f} MiB/s",
            f"nginx {max(found.nginx_rates):.0f} MiB/s",
            dl_ratio,
            f">= {DOWNLOAD_TARGET}x",
            dl_ratio >= DOWNLOAD_TARGET,
            note=f"xet storage after 3 uploads: logical {found.stats['logical_bytes'] / 1e6:.0f} "
            f"MB, stored {found.stats['stored_bytes'] / 1e6:.0f} MB, dedup ratio "
            f"{found.stats['dedup_ratio']:.2f}",
        ),
        Result(
            f"plain resolve of the Xet file, {label} (HF_HUB_DISABLE_XET=1)",
            f"{max(found.decoded_rates):.0f} MiB/s",
            f"nginx {max(found.nginx_rates):.0f} MiB/s",
            max(found.decoded_rates) / max(found.nginx_rates),
            "(info)",
        ),
    ]
