"""Download of one large LFS file: hugbox against nginx serving the same bytes on loopback.

Both are read by the same client, `hf_hub_download` in a fresh interpreter with a fresh HF_HOME,
and by raw `curl -o /dev/null`; nginx serves the very blob file hugbox stores (same inode, same
page cache). The hugbox server's RSS is sampled all the while.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx

from common import (
    BENCH_USER,
    MIB,
    Hub,
    Result,
    RssSampler,
    Workspace,
    fmt_mb,
    hugbox_cli,
    log,
    mib_per_s,
    remove_tree,
    rss_bytes,
    run_python,
    running_hub,
    seed_user,
)
from hugbox.settings import Settings
from hugbox.storage.blobs import LocalBlobStore
from nginx import ServedFile, running_nginx

REPO_ID = f"{BENCH_USER}/big-model"
FILENAME = "model.bin"  # *.bin: LFS by the default .gitattributes
CLIENT = """
import json, os, sys, time
from huggingface_hub import hf_hub_download
started = time.perf_counter()
path = hf_hub_download(sys.argv[1], sys.argv[2])
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "size": os.path.getsize(path)}))
"""
TARGET_RATIO = 0.7
RSS_LIMIT = 300_000_000


def _import_payload(ws: Workspace, data_dir: Path) -> None:
    folder = ws.root / "import"
    folder.mkdir()
    (folder / FILENAME).hardlink_to(ws.payload)
    try:
        hugbox_cli(data_dir, "import", str(folder), REPO_ID)
    finally:
        remove_tree(folder)


def _served_file(hub: Hub) -> ServedFile:
    url_path = f"/{REPO_ID}/resolve/main/{FILENAME}"
    head = httpx.head(hub.endpoint + url_path, timeout=30)
    head.raise_for_status()
    oid = head.headers["x-linked-etag"].strip('"')
    disk_path = LocalBlobStore(Settings(data_dir=hub.data_dir).blobs_dir).local_path(oid)
    assert disk_path is not None, f"blob {oid} is missing from {hub.data_dir}"
    size = int(head.headers["x-linked-size"])
    return ServedFile(url_path, disk_path, head.headers["x-repo-commit"], oid, size)


def _hf_download(ws: Workspace, endpoint: str, run: int) -> float:
    """Seconds `hf_hub_download` took inside a fresh interpreter (imports not counted)."""
    hf_home = ws.root / f"hf-home-{run}"
    os.sync()  # earlier runs' dirty pages are written back before the clock starts
    try:
        out = run_python(
            CLIENT, [REPO_ID, FILENAME], {"HF_ENDPOINT": endpoint, "HF_HOME": str(hf_home)}, 600
        )
    finally:
        remove_tree(hf_home)
    if out["size"] != ws.size:
        raise RuntimeError(f"hf_hub_download wrote {out['size']} bytes, expected {ws.size}")
    return float(out["seconds"])


def _curl(ws: Workspace, url: str) -> float:
    done = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", url],
        capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    size, seconds = done.stdout.split()
    if int(size) != ws.size:
        raise RuntimeError(f"curl got {size} bytes, expected {ws.size}")
    return float(seconds)


def _rates(ws: Workspace, rounds: int, runs: dict[str, Callable[[int], float]]) -> dict:
    """MiB/s of every run; the order flips each round so that drift hits both servers alike."""
    for run in runs.values():
        run(rounds)  # warm-up, not counted: the first client start reads everything from disk
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for index in range(rounds):
        names = list(runs) if index % 2 == 0 else list(reversed(runs))
        for name in names:
            rates[name].append(mib_per_s(ws.size, runs[name](index)))
            log(f"  round {index + 1}: {name} {rates[name][-1]:.0f} MiB/s")
    return rates


def _measure(
    ws: Workspace, hub: Hub, nginx: str, served: ServedFile, rounds: int
) -> tuple[dict, int]:
    hub_url, nginx_url = hub.endpoint + served.url_path, nginx + served.url_path
    runs: dict[str, Callable[[int], float]] = {
        "hf/nginx": lambda i: _hf_download(ws, nginx, 2 * i),
        "hf/hugbox": lambda i: _hf_download(ws, hub.endpoint, 2 * i + 1),
        "curl/nginx": lambda _i: _curl(ws, nginx_url),
        "curl/hugbox": lambda _i: _curl(ws, hub_url),
    }
    with RssSampler(hub.pid) as rss:
        rates = _rates(ws, rounds, runs)
    return rates, rss.peak


def _note(client: str, rates: dict[str, list[float]]) -> str:
    runs = {k: ", ".join(f"{v:.0f}" for v in vs) for k, vs in rates.items() if k.startswith(client)}
    return f"{client} runs (MiB/s, best counts): " + "; ".join(f"{k} {v}" for k, v in runs.items())


def _results(ws: Workspace, rates: dict, idle_rss: int, peak_rss: int) -> list[Result]:
    size = f"{ws.size // MIB} MiB"
    best = {name: max(values) for name, values in rates.items()}
    hf_ratio = best["hf/hugbox"] / best["hf/nginx"]
    curl_ratio = best["curl/hugbox"] / best["curl/nginx"]
    return [
        Result(
            f"download {size}, hf_hub_download", f"{best['hf/hugbox']:.0f} MiB/s",
            f"nginx {best['hf/nginx']:.0f} MiB/s", hf_ratio, f">= {TARGET_RATIO}x",
            hf_ratio >= TARGET_RATIO, _note("hf", rates),
        ),
        Result(
            f"download {size}, curl -o /dev/null", f"{best['curl/hugbox']:.0f} MiB/s",
            f"nginx {best['curl/nginx']:.0f} MiB/s", curl_ratio, "(info)",
            note=_note("curl", rates),
        ),
        Result(
            "server peak RSS, downloads", fmt_mb(peak_rss), f"idle {fmt_mb(idle_rss)}", None,
            f"< {fmt_mb(RSS_LIMIT)}", peak_rss < RSS_LIMIT,
        ),
    ]  # fmt: skip


def run(ws: Workspace) -> list[Result]:
    rounds = 2 if ws.quick else 4
    data_dir = ws.root / "download-hub"
    data_dir.mkdir()
    try:
        seed_user(data_dir)
        log("download: importing the payload into hugbox")
        _import_payload(ws, data_dir)
        with running_hub(data_dir) as hub:
            served = _served_file(hub)
            with running_nginx(ws.root / "nginx", served) as nginx:
                idle_rss = rss_bytes(hub.pid)
                log(f"download: {rounds} rounds, hugbox vs nginx")
                rates, peak_rss = _measure(ws, hub, nginx, served, rounds)
    finally:
        remove_tree(data_dir)
    return _results(ws, rates, idle_rss, peak_rss)
