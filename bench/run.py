"""Run every benchmark and print a summary: each measurement, its same-run baseline, the ratio
and the target. A report, not a test: it exits 0 even when a target is missed.

Run: .venv/bin/python bench/run.py [--quick]
     [--only download upload model_info object_access replicas inference inference_onnx generation
            ray git gpt2
            viewer xet web spaces spaces_containers jobs s3 discussions webhooks usage
            scanning limits fine_grained]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import discussions
import download
import fine_grained
import git_clone
import gpt2_text
import inference
import inference_generation
import inference_onnx
import jobs
import model_info
import object_access
import rate_limits
import ray_serve
import replicas
import s3
import scanning
import spaces
import spaces_containers
import upload
import usage
import viewer
import web
import webhooks
import xet
from common import MIB, Result, Workspace, log, make_payload, remove_tree

BENCHMARKS: dict[str, Callable[[Workspace], list[Result]]] = {
    "download": download.run,
    "upload": upload.run,
    "model_info": model_info.run,
    "object_access": object_access.run,
    "replicas": replicas.run,
    "inference": inference.run,
    "inference_onnx": inference_onnx.run,
    "generation": inference_generation.run,
    "ray": ray_serve.run,
    "git": git_clone.run,
    "gpt2": gpt2_text.run,
    "viewer": viewer.run,
    "xet": xet.run,
    "web": web.run,
    "spaces": spaces.run,
    "jobs": jobs.run,
    "s3": s3.run,
    "spaces_containers": spaces_containers.run,
    "discussions": discussions.run,
    "webhooks": webhooks.run,
    "usage": usage.run,
    "scanning": scanning.run,
    "limits": rate_limits.run,
    "fine_grained": fine_grained.run,
}
COLUMNS = ("benchmark", "measured", "baseline (same run)", "ratio", "target", "ok")


def _row(result: Result) -> tuple[str, ...]:
    ratio = "" if result.ratio is None else f"{result.ratio:.2f}x"
    ok = {True: "yes", False: "MISSED", None: "-"}[result.met]
    return (result.name, result.measured, result.baseline, ratio, result.target, ok)


def format_table(results: list[Result]) -> str:
    rows = [COLUMNS, *(_row(r) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  * {r.note}" for r in results if r.note]
    return "\n".join(line.rstrip() for line in lines + notes)


def _machine() -> str:
    return f"{os.cpu_count()} cores, loopback only; servers and clients share the cores"


def run_all(names: list[str], quick: bool) -> list[Result]:
    root = Path(tempfile.mkdtemp(prefix="hugbox-bench-"))
    size = (128 if quick else 1024) * MIB
    try:
        if {"download", "upload"} & set(names):
            log(f"writing a {size // MIB} MiB random payload under {root}")
            make_payload(root / "payload.bin", size)
        ws = Workspace(root, root / "payload.bin", size, quick)
        results: list[Result] = []
        for name in names:
            started = time.monotonic()
            try:
                results += BENCHMARKS[name](ws)
            except Exception as exc:  # one broken benchmark must not hide the others
                log(f"{name} failed: {exc!r}")
                results.append(Result(name, "FAILED", str(exc)[:60], met=False))
            log(f"{name} took {time.monotonic() - started:.0f} s")
        return results
    finally:
        remove_tree(root)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128 MiB files, 3 s of load")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    args = parser.parse_args()
    results = run_all(args.only, args.quick)
    mode = "quick (128 MiB, 3 s load)" if args.quick else "full (1 GiB, 10 s load)"
    print(f"hugbox benchmarks, {mode}; {_machine()}")
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
