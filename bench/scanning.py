"""Scanning: picklescan's verdict on a 1 GiB checkpoint against reading the same file with
`cat > /dev/null`, in the same run (issue 21: ≤ 2x), for the two shapes checkpoints come in: a
PyTorch zip (`torch.save`, whose pickle is one small member) and one flat pickle holding the
whole array (`pickle.dumps` of a numpy array: the scanner walks its opcodes and jumps over the
array's bytes, `scanner.ArgumentSkipper`). Both files are read once before timing, so each side
reads from the page cache.

Run alone: .venv/bin/python bench/run.py --only scanning [--quick]
"""

from __future__ import annotations

import pickle
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from common import MIB, Result, Workspace, log
from hugbox.scanning import scanner

TARGET = 2.0  # issue 21: scan time ≤ 2x the time of reading the file
ROUNDS = 3


def _checkpoints(root: Path, size: int) -> dict[str, Path]:
    values = size // 4
    zipped, flat = root / "checkpoint.bin", root / "array.pkl"
    if not zipped.exists():
        torch.save({"weight": torch.zeros(values, dtype=torch.float32)}, zipped)
    if not flat.exists():
        flat.write_bytes(pickle.dumps(np.zeros(values, dtype=np.float32), protocol=4))
    return {"PyTorch zip": zipped, "flat pickle": flat}


def _best(run: object, rounds: int = ROUNDS) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best


def _read(path: Path) -> None:
    subprocess.run(f"cat '{path}' > /dev/null", shell=True, check=True)  # noqa: S602 - our path


def _scan(path: Path) -> None:
    with path.open("rb") as handle:
        verdict = scanner.scan(handle, path.name, path.stat().st_size)
    assert verdict.status == "safe", verdict


def run(ws: Workspace) -> list[Result]:
    size = 64 * MIB if ws.quick else 1024 * MIB
    results = []
    for shape, path in _checkpoints(ws.root, size).items():
        _read(path)  # into the page cache for both sides
        read_s, scan_s = _best(lambda p=path: _read(p)), _best(lambda p=path: _scan(p))
        ratio = scan_s / read_s
        log(f"scan {shape}: {scan_s * 1000:.0f} ms, cat {read_s * 1000:.0f} ms")
        results.append(Result(
            f"scan {size // MIB} MiB {shape}", f"{scan_s * 1000:.0f} ms",
            f"cat > /dev/null {read_s * 1000:.0f} ms", ratio, f"≤ {TARGET:.1f}x", ratio <= TARGET,
        ))  # fmt: skip
        path.unlink()
    return results
