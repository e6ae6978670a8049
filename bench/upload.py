"""Upload of one large file with `upload_file`, against `sha256sum` + `cp` of the same file.

Each upload goes to a fresh hub (a second upload of the same bytes would be skipped), from a
fresh interpreter with HF_HUB_DISABLE_XET=1; the server's RSS is sampled while it runs.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

from common import (
    BENCH_USER,
    MIB,
    Result,
    RssSampler,
    Workspace,
    fmt_mb,
    log,
    remove_tree,
    run_python,
    running_hub,
    seed_user,
)

CLIENT = """
import json, sys, time
from huggingface_hub import HfApi
endpoint, token, repo_id, path = sys.argv[1:]
api = HfApi(endpoint=endpoint, token=token)
api.create_repo(repo_id)
started = time.perf_counter()
api.upload_file(path_or_fileobj=path, path_in_repo="model.bin", repo_id=repo_id)
print(json.dumps({"seconds": time.perf_counter() - started}))
"""
TARGET_RATIO = 2.0
RSS_LIMIT = 300_000_000


@dataclass(frozen=True)
class Variant:
    label: str
    env: dict[str, str]
    has_target: bool


VARIANTS = (
    Variant("LFS batch, multipart 64 MiB parts", {"HUGBOX_PREUPLOAD_MODE": "lfs"}, True),
    Variant(
        "LFS batch, single PUT",
        {"HUGBOX_PREUPLOAD_MODE": "lfs", "HUGBOX_LFS_MULTIPART_CHUNK_SIZE": str(2**40)},
        True,
    ),
    Variant("inline (base64 in commit NDJSON)", {"HUGBOX_PREUPLOAD_MODE": "inline"}, False),
)


@dataclass(frozen=True)
class Baseline:
    """Best-of-3 seconds of each step; `sha256sum` is coreutils, which uses no SHA-NI."""

    sha256sum: float
    cp: float
    openssl: float  # `openssl dgst -sha256`: the hashing speed Python's hashlib gets

    @property
    def total(self) -> float:
        return self.sha256sum + self.cp


def _timed(argv: list[str]) -> float:
    os.sync()  # earlier runs' dirty pages are written back before the clock starts
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, timeout=600)
    return time.perf_counter() - started


def _copy_seconds(ws: Workspace) -> float:
    copy = ws.root / "baseline-copy"
    try:
        return _timed(["cp", str(ws.payload), str(copy)])
    finally:
        copy.unlink(missing_ok=True)


def _baseline(ws: Workspace) -> Baseline:
    """The least an upload must do with the bytes: hash them and write a copy."""
    _timed(["cat", str(ws.payload)])  # the page cache is warm for every contender
    payload = str(ws.payload)
    return Baseline(
        sha256sum=min(_timed(["sha256sum", payload]) for _ in range(3)),
        cp=min(_copy_seconds(ws) for _ in range(3)),
        openssl=min(_timed(["openssl", "dgst", "-sha256", payload]) for _ in range(3)),
    )


def _upload_once(ws: Workspace, variant: Variant, index: int) -> tuple[float, int]:
    """Seconds `upload_file` took and the server's peak RSS meanwhile."""
    data_dir = ws.root / f"upload-hub-{index}"
    data_dir.mkdir()
    try:
        token = seed_user(data_dir)
        os.sync()
        with running_hub(data_dir, variant.env) as hub, RssSampler(hub.pid) as rss:
            args = [hub.endpoint, token, f"{BENCH_USER}/upload-{index}", str(ws.payload)]
            out = run_python(CLIENT, args, {"HF_HUB_DISABLE_XET": "1"}, 900)
        return float(out["seconds"]), rss.peak
    finally:
        remove_tree(data_dir)


def _variant_results(
    ws: Workspace, variant: Variant, times: list[float], peak: int, base: Baseline
) -> list[Result]:
    best = min(times)
    ratio = best / base.total
    rate = f"{best:.2f} s ({ws.size / MIB / best:.0f} MiB/s)"
    target = f"<= {TARGET_RATIO}x" if variant.has_target else "(info)"
    met = ratio <= TARGET_RATIO if variant.has_target else None
    note = (
        f"{variant.label}: runs {', '.join(f'{t:.2f}' for t in times)} s; "
        f"{best / (base.openssl + base.cp):.2f}x openssl-sha256+cp"
    )
    return [
        Result(f"upload {ws.size // MIB} MiB, {variant.label}", rate,
               f"sha256sum+cp {base.total:.2f} s", ratio, target, met, note),
        Result(f"server peak RSS, {variant.label}", fmt_mb(peak), "", None,
               f"< {fmt_mb(RSS_LIMIT)}", peak < RSS_LIMIT),
    ]  # fmt: skip


def _baseline_note(base: Baseline) -> Result:
    return Result(
        "upload baseline", f"{base.total:.2f} s", "", None, "(info)",
        note=f"upload baseline: sha256sum {base.sha256sum:.2f} s + cp {base.cp:.2f} s; "
        f"openssl dgst -sha256 {base.openssl:.2f} s (SHA-NI, what hashlib gets); "
        "upload times include the client's own sha256 pass",
    )  # fmt: skip


def run(ws: Workspace) -> list[Result]:
    rounds = 1 if ws.quick else 2
    base = _baseline(ws)
    log(f"upload: baseline sha256sum {base.sha256sum:.2f} s + cp {base.cp:.2f} s (best of 3)")
    results = [_baseline_note(base)]
    for number, variant in enumerate(VARIANTS):
        times, peak = [], 0
        for round_ in range(rounds):
            seconds, rss = _upload_once(ws, variant, number * rounds + round_)
            times.append(seconds)
            peak = max(peak, rss)
            log(f"  {variant.label}: {seconds:.2f} s, server peak RSS {fmt_mb(rss)}")
        results += _variant_results(ws, variant, times, peak, base)
    return results
