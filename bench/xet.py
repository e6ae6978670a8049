"""Xet: upload of a safetensors file through hugbox's CAS against a plain HTTP PUT to a minimal
Starlette endpoint, the bytes a re-upload with 5 % changed sends, and a Xet download against
nginx serving the same file on loopback.

Every client runs in a fresh interpreter (only the transfer is timed) with its own HF_HOME, so
the client's local Xet cache is cold unless a run says otherwise.
"""

from __future__ import annotations

import json
import os
import re
import time
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
)
from hugbox.settings import Settings
from hugbox.storage.blobs import LocalBlobStore
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
    os.sync()
    args = [hub.endpoint, token, REPO_ID, str(path)]
    out = run_python(UPLOAD, args, {"HF_HOME": str(home)}, 900)
    return float(out["seconds"])


def _received(hub: Hub) -> int:
    """Xorb bytes the hub has received so far (its log records each upload)."""
    text = (hub.data_dir / "server.log").read_text()
    return sum(int(n) for n in re.findall(r"xorb [0-9a-f]{64}: (\d+) bytes received", text))


def _stats(hub: Hub) -> dict:
    stats: dict = json.loads(hugbox_cli(hub.data_dir, "storage", "stats", "--format", "json"))
    return stats


def _download_seconds(endpoint: str, home: Path, size: int) -> float:
    os.sync()
    try:
        out = run_python(
            DOWNLOAD, [REPO_ID, FILENAME], {"HF_ENDPOINT": endpoint, "HF_HOME": str(home)}, 600
        )
    finally:
        remove_tree(home)
    if out["size"] != size:
        raise RuntimeError(f"downloaded {out['size']} bytes, expected {size}")
    return float(out["seconds"])


def _served(hub: Hub, size: int) -> ServedFile:
    import httpx

    head = httpx.head(f"{hub.endpoint}/{REPO_ID}/resolve/main/{FILENAME}", timeout=30)
    head.raise_for_status()
    oid = head.headers["x-linked-etag"].strip('"')
    path = LocalBlobStore(Settings(data_dir=hub.data_dir).blobs_dir).local_path(oid)
    assert path is not None and head.headers.get("x-xet-hash"), "not stored through Xet"
    return ServedFile(
        f"/{REPO_ID}/resolve/main/{FILENAME}", path, head.headers["x-repo-commit"], oid, size
    )


def _downloads(ws: Workspace, hub: Hub, size: int, rounds: int) -> tuple[list[float], list[float]]:
    with running_nginx(ws.root / "xet-nginx", _served(hub, size)) as nginx:
        xet, plain = [], []
        for i in range(rounds):
            xet.append(mib_per_s(size, _download_seconds(hub.endpoint, ws.root / f"dx{i}", size)))
            plain.append(mib_per_s(size, _download_seconds(nginx, ws.root / f"dn{i}", size)))
            log(f"  download round {i + 1}: xet {xet[-1]:.0f} MiB/s, nginx {plain[-1]:.0f} MiB/s")
    return xet, plain


def run(ws: Workspace) -> list[Result]:
    payload = ws.root / "xet-model.safetensors"
    changed = [ws.root / f"xet-changed-{i}.safetensors" for i in (1, 2)]
    log(f"xet: writing a {ws.size // MIB} MiB safetensors file and two copies with 5 % changed")
    make_safetensors(payload, ws.size)
    for copy in changed:
        change_5_percent(payload, copy)
    size = payload.stat().st_size
    data_dir = ws.root / "xet-hub"
    data_dir.mkdir()
    rounds = 1 if ws.quick else 2
    try:
        put = min(_put_seconds(ws, payload) for _ in range(rounds))
        log(f"  plain PUT: {put:.2f} s")
        token = seed_user(data_dir)
        with running_hub(data_dir, log_level="info") as hub:
            xet_up = _upload(hub, token, payload, ws.root / "home-a")
            log(f"  xet upload: {xet_up:.2f} s")
            before = _received(hub)
            _upload(hub, token, changed[0], ws.root / "home-a")  # warm client cache
            warm = _received(hub) - before
            before = _received(hub)
            _upload(hub, token, changed[1], ws.root / "home-b")  # cold cache: server dedup
            cold = _received(hub) - before
            stats = _stats(hub)
            xet_rates, nginx_rates = _downloads(ws, hub, size, rounds + 1)
    finally:
        remove_tree(data_dir)
        for path in (payload, *changed):
            path.unlink(missing_ok=True)
    return _results(size, put, xet_up, warm, cold, stats, xet_rates, nginx_rates)


def _results(
    size: int,
    put: float,
    xet_up: float,
    warm: int,
    cold: int,
    stats: dict,
    xet_rates: list[float],
    nginx_rates: list[float],
) -> list[Result]:
    label = f"{size // MIB} MiB safetensors"
    up_ratio = xet_up / put
    dl_ratio = max(xet_rates) / max(nginx_rates)
    return [
        Result(
            f"xet upload {label}",
            f"{xet_up:.2f} s ({mib_per_s(size, xet_up):.0f} MiB/s)",
            f"plain PUT {put:.2f} s",
            up_ratio,
            f"<= {UPLOAD_TARGET}x",
            up_ratio <= UPLOAD_TARGET,
        ),
        Result(
            "xet re-upload, 5 % changed (warm client cache)",
            f"{warm / 1e6:.1f} MB sent",
            f"file {size / 1e6:.0f} MB",
            warm / size,
            f"<= {RESEND_TARGET:.2f}x",
            warm / size <= RESEND_TARGET,
        ),
        Result(
            "xet re-upload, 5 % changed (cold cache, server dedup)",
            f"{cold / 1e6:.1f} MB sent",
            f"file {size / 1e6:.0f} MB",
            cold / size,
            f"<= {RESEND_TARGET:.2f}x",
            cold / size <= RESEND_TARGET,
        ),
        Result(
            f"xet download {label}",
            f"{max(xet_rates):.0f} MiB/s",
            f"nginx {max(nginx_rates):.0f} MiB/s",
            dl_ratio,
            f">= {DOWNLOAD_TARGET}x",
            dl_ratio >= DOWNLOAD_TARGET,
            note=f"xet storage after 3 uploads: logical {stats['logical_bytes'] / 1e6:.0f} "
            f"MB, stored {stats['stored_bytes'] / 1e6:.0f} MB, dedup ratio "
            f"{stats['dedup_ratio']:.2f}",
        ),
    ]
