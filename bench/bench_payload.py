"""Throughput of the commit body parser on one big base64 file, against bare decode+hash+write.

Run: .venv/bin/python bench/bench_payload.py [--mib 512] [--chunk-kib 64]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from hugbox.repos.payload import AddFile, parse_commit_payload

HEADER = b'{"key": "header", "value": {"summary": "bench"}}\n{"key": "file", "value": {"content": "'
FOOTER = b'", "path": "big.bin", "encoding": "base64"}}\n'


def _block(chunk: int) -> bytes:
    return base64.b64encode(os.urandom(chunk // 4 * 3))


async def _body(total: int, chunk: int) -> AsyncIterator[bytes]:
    block = _block(chunk)
    # Three characters ride with the header so that every chunk boundary splits a quad.
    yield HEADER + block[:3]
    for _ in range(total // len(block) - 1):
        yield block[3:] + block[:3]
    yield block[3:] + FOOTER


async def _parse(total: int, chunk: int, spool: Path) -> float:
    started = time.perf_counter()
    async for item in parse_commit_payload(_body(total, chunk), spool):
        if isinstance(item, AddFile):
            item.content.path.unlink()
    return time.perf_counter() - started


def _baseline(total: int, chunk: int, spool: Path) -> float:
    """The least any parser must do: decode, hash and write each chunk."""
    block = _block(chunk)
    sha256 = hashlib.sha256()
    started = time.perf_counter()
    with tempfile.TemporaryFile(dir=spool) as file:
        for _ in range(total // len(block)):
            data = binascii.a2b_base64(block, strict_mode=True)
            sha256.update(data)
            file.write(data)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=512, help="base64 text to stream, in MiB")
    parser.add_argument("--chunk-kib", type=int, default=64, help="size of each body chunk")
    args = parser.parse_args()
    total, chunk = args.mib << 20, args.chunk_kib << 10
    with tempfile.TemporaryDirectory() as spool:
        base = _baseline(total, chunk, Path(spool))
        took = asyncio.run(_parse(total, chunk, Path(spool)))
    mb = total / 1e6
    print(f"base64 text: {args.mib} MiB in {args.chunk_kib} KiB chunks")
    print(f"baseline (a2b_base64 + sha256 + write): {mb / base:7.0f} MB/s")
    print(f"parse_commit_payload:                   {mb / took:7.0f} MB/s")
    print(f"ratio parser / baseline:                {base / took:7.2f}")


if __name__ == "__main__":
    main()
