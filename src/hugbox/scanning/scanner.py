"""What a file holds that could harm whoever loads it: picklescan's verdict on pickle-bearing
files (HF's own scanner, with HF's safety vocabulary) and a check of safetensors headers.

Plain functions over an open, seekable file; nothing here touches the database or a repo.
"""

from __future__ import annotations

import io
import itertools
import json
import mmap
import struct
import zipfile
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import BinaryIO

from picklescan.scanner import (
    MAGIC_NUMBER as MAGIC,
)  # fmt: skip
from picklescan.scanner import (
    SafetyLevel,
    get_magic_number,
    scan_bytes,
    scan_pickle_bytes,
)

# The files picklescan reads (pickles, PyTorch zips, numpy arrays, joblib dumps, zips of them).
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz",
                   ".zip")  # fmt: skip
SAFETENSORS = ".safetensors"
SCANNER = f"picklescan {version('picklescan')}"
# A safetensors header is JSON of at most 100 MB (the format's own limit).
_MAX_HEADER = 100_000_000
# HF's levels, worst last: a file's status is the worst of its scans.
LEVELS = ("unscanned", "queued", "safe", "caution", "suspicious", "error", "unsafe")
_IMPORT_LEVEL = {"innocuous": "safe", "suspicious": "suspicious", "dangerous": "unsafe"}
_7Z_MAGIC = b"7z\xbc\xaf\x27\x1c"
_TORCH_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")  # legacy (pre-zip) torch.save files


@dataclass(frozen=True)
class Verdict:
    status: str  # one of LEVELS
    imports: list[dict[str, str]] = field(default_factory=list)  # {module, name, safety}
    message: str | None = None


def scanned(path: str) -> bool:
    """Whether a file at `path` is scanned at all (every other file is `unscanned`)."""
    lower = path.lower()
    return lower.endswith(PICKLE_SUFFIXES) or lower.endswith(SAFETENSORS)


def scan(handle: BinaryIO, path: str, size: int) -> Verdict:
    if path.lower().endswith(SAFETENSORS):
        return check_safetensors(handle, size)
    return scan_pickle(handle, path)


def worst(levels: list[str]) -> str:
    return max(levels, key=LEVELS.index, default="unscanned")


def scan_pickle(handle: BinaryIO, path: str) -> Verdict:
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
    try:
        if _container(handle, suffix):  # zips, 7z, numpy, legacy torch: picklescan's own way
            result = scan_bytes(handle, path, suffix)
        else:
            result = scan_pickle_bytes(ArgumentSkipper(handle), path)
    except Exception as exc:  # picklescan's own parse errors: the file is not what it claims
        return Verdict("error", message=f"could not be read as a pickle: {type(exc).__name__}")
    imports = [_import(g.module, g.name, g.safety) for g in result.globals]
    status = worst([_IMPORT_LEVEL[i["safety"]] for i in imports] or ["safe"])
    if result.scan_err and status == "safe":
        return Verdict("error", imports, "part of the file could not be parsed")
    return Verdict(status, imports)


def _container(handle: BinaryIO, suffix: str) -> bool:
    """Whether the file is one of the formats picklescan unpacks itself, rather than one flat
    pickle stream (a `.pkl`, a joblib dump, a pickled array)."""
    try:
        if suffix == ".npy" or zipfile.is_zipfile(handle):
            return True
        handle.seek(0)
        if handle.read(6) == _7Z_MAGIC:
            return True
        handle.seek(0)
        return suffix in _TORCH_SUFFIXES and get_magic_number(ArgumentSkipper(handle)) == MAGIC
    finally:
        handle.seek(0)


class ArgumentSkipper:
    """A flat pickle as the scanner reads it, with large opcode arguments skipped, not read.

    Only opcodes can import anything; a tensor's bytes are one length-prefixed argument that
    the pickle machine itself would jump over. Arguments of `SKIP_AT` bytes or more come back
    as a zero-filled anonymous mapping of the same length (untouched pages cost no memory), so
    a 10 GiB pickled array is scanned in milliseconds and a few MiB. Never used for archives:
    there a "large read" is a member's bytes, which must be real."""

    SKIP_AT = 1024 * 1024

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.size = raw.seek(0, io.SEEK_END)
        raw.seek(0)

    def read(self, n: int = -1) -> bytes | memoryview:
        if n is None or n < self.SKIP_AT:
            return self.raw.read(n)
        start = self.raw.tell()
        length = max(0, min(n, self.size - start))
        self.raw.seek(start + length)
        return memoryview(mmap.mmap(-1, length)) if length else b""

    def readline(self, limit: int = -1) -> bytes:
        return self.raw.readline(limit)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()


def _import(module: str, name: str, safety: SafetyLevel) -> dict[str, str]:
    return {"module": module, "name": name, "safety": safety.value}


def check_safetensors(handle: BinaryIO, size: int) -> Verdict:
    """A safetensors file holds no code; what can go wrong is a header that lies about where the
    tensors are (loaders trust its offsets)."""
    problem = _safetensors_problem(handle, size)
    return Verdict("error", message=problem) if problem else Verdict("safe")


def _safetensors_problem(handle: BinaryIO, size: int) -> str | None:
    prefix = handle.read(8)
    if len(prefix) < 8:
        return "shorter than a safetensors header"
    (length,) = struct.unpack("<Q", prefix)
    if length > min(_MAX_HEADER, size - 8):
        return "header length past the end of the file"
    try:
        header = json.loads(handle.read(length))
    except (UnicodeDecodeError, ValueError):
        return "header is not JSON"
    if not isinstance(header, dict):
        return "header is not a JSON object"
    return _offsets_problem(header, size - 8 - length)


def _offsets_problem(header: dict[str, object], data_size: int) -> str | None:
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) for o in offsets)):  # fmt: skip
            return f"tensor {name!r} has no valid data_offsets"
        start, end = offsets
        if not 0 <= start <= end <= data_size:
            return f"tensor {name!r} lies outside the file"
        spans.append((start, end))
    spans.sort()
    if any(a_end > b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans)):
        return "tensors overlap"
    return None
