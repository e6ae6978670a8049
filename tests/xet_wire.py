"""Build Xet xorbs and shards by hand, for tests that play a (possibly malicious) client."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hugbox.xet import format as fmt


def xorb(chunks: list[bytes]) -> tuple[str, bytes]:
    """(xorb hash string, body) of uncompressed chunks."""
    body = b"".join(
        bytes([0]) + len(c).to_bytes(3, "little") + bytes([0]) + len(c).to_bytes(3, "little") + c
        for c in chunks
    )
    root = fmt.merkle_root([(fmt.chunk_hash(c), len(c)) for c in chunks])
    return fmt.hash_to_str(root), body


@dataclass
class FileEntry:
    """One file of a shard: terms over xorbs, and what the client claims about them."""

    xorb_hash: str
    chunks: list[bytes]  # the file is all chunks of that one xorb
    sha256: str
    file_hash: str | None = None  # default: the right one
    verification: bytes | None = None  # default: the right one


def _record(raw: bytes, *words: int) -> bytes:
    return raw + struct.pack("<IIII", *words)


def shard(files: list[FileEntry]) -> bytes:
    out = bytearray(fmt.SHARD_TAG + struct.pack("<QQ", 2, 0))
    for f in files:
        leaves = [(fmt.chunk_hash(c), len(c)) for c in f.chunks]
        file_hash = fmt.str_to_hash(f.file_hash) if f.file_hash else fmt.file_hash(leaves)
        out += file_hash + struct.pack("<II", 0xC0000000, 1) + bytes(8)
        total = sum(len(c) for c in f.chunks)
        out += _record(fmt.str_to_hash(f.xorb_hash), 0, total, 0, len(f.chunks))
        check = f.verification or fmt.verification_hash([h for h, _n in leaves])
        out += check + bytes(16)
        out += fmt.str_to_hash(f.sha256) + bytes(16)
    out += fmt.BOOKEND + fmt.BOOKEND
    return bytes(out)
