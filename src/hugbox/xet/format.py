"""The Xet wire formats: hashes (chunk, Merkle, file, term verification), xorbs and shards.

Pure functions over bytes, checked against hf_xet 1.8 (spec/xet.md §2). Everything a client
sends is parsed with lengths bounded by the body, and every claim is recomputed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import blake3
import lz4.frame
import numpy as np

DATA_KEY = bytes.fromhex("6697f5775b9550de3135cbaca597181c9de421109beb2b58b4d0b04b93adf229")
INTERNAL_NODE_KEY = bytes.fromhex(
    "017ec5c7a5472996fd946666b48a02e65ddd536f37c76dd2f86352e64a53713f"
)
VERIFICATION_KEY = bytes.fromhex("7f1857d6ce56ed66127ff913e7a5c3f3a4cd26d5b5db49e64124987f28fb94c3")
ZERO_HASH = bytes(32)
MAX_CHUNK = 128 * 1024
# 64 MiB of chunk data, plus chunk headers (observed: 67,114,632 bytes from hf_xet 1.8).
MAX_XORB_BYTES = 65 * 1024 * 1024
MAX_SHARD_BYTES = 64 * 1024 * 1024
SHARD_TAG = b"HFRepoMetaData\x00" + bytes(
    [85, 105, 103, 69, 106, 123, 129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169]
)
BOOKEND = b"\xff" * 32 + bytes(16)
_RECORD = 48
_FLAG_VERIFICATION = 1 << 31
_FLAG_METADATA = 1 << 30
Bytes = bytes | memoryview  # request body parts, and slices of them (never copied to join)


class FormatError(ValueError):
    """Bytes that are not a valid xorb or shard, or whose hashes do not check out."""


def hash_to_str(raw: bytes) -> str:
    """Xet's string form: each 8-byte group printed as a little-endian u64."""
    return "".join(raw[i : i + 8][::-1].hex() for i in range(0, 32, 8))


def str_to_hash(text: str) -> bytes:
    if len(text) != 64:
        raise FormatError(f"not a Xet hash: {text!r}")
    try:
        return b"".join(bytes.fromhex(text[i : i + 16])[::-1] for i in range(0, 64, 16))
    except ValueError as exc:
        raise FormatError(f"not a Xet hash: {text!r}") from exc


def is_hash_str(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def chunk_hash(data: Bytes) -> bytes:
    return blake3.blake3(data, key=DATA_KEY).digest()


def _cut(level: Sequence[tuple[bytes, int]], start: int) -> int:
    """Size of the next group of a Merkle level (ends after a hash ≡ 0 mod 4, 3..9 members)."""
    remaining = len(level) - start
    if remaining <= 2:
        return remaining
    for i in range(2, min(9, remaining)):
        if int.from_bytes(level[start + i][0][24:32], "little") % 4 == 0:
            return i + 1
    return min(9, remaining)


def _node(group: Sequence[tuple[bytes, int]]) -> tuple[bytes, int]:
    text = "".join(f"{hash_to_str(h)} : {n}\n" for h, n in group)
    digest = blake3.blake3(text.encode(), key=INTERNAL_NODE_KEY).digest()
    return digest, sum(n for _h, n in group)


def merkle_root(items: Sequence[tuple[bytes, int]]) -> bytes:
    """Root over (hash, length) leaves: the xorb hash when the leaves are its chunks."""
    level = list(items)
    if not level:
        return ZERO_HASH
    while len(level) > 1:
        merged, start = [], 0
        while start < len(level):
            size = _cut(level, start)
            merged.append(_node(level[start : start + size]))
            start += size
        level = merged
    return level[0][0]


def file_hash(items: Sequence[tuple[bytes, int]]) -> bytes:
    if not items:
        return ZERO_HASH
    return blake3.blake3(merkle_root(items), key=ZERO_HASH).digest()


def verification_hash(hashes: Sequence[bytes]) -> bytes:
    return blake3.blake3(b"".join(hashes), key=VERIFICATION_KEY).digest()


# --- xorbs -------------------------------------------------------------------------------------


FOOTER_MAGIC = b"XETBLOB"  # older serializers end a xorb with a footer; hf_xet 1.8 sends none


@dataclass(frozen=True)
class XorbChunk:
    hash: bytes
    unpacked_end: int  # cumulative uncompressed length up to the end of this chunk
    stored_end: int  # offset in the stored xorb just past this chunk (header included)


@dataclass(frozen=True)
class ParsedXorb:
    hash: bytes
    chunks: list[XorbChunk]
    data_length: int  # bytes of chunk data (a footer, if sent, is not kept)

    @property
    def unpacked_size(self) -> int:
        return self.chunks[-1].unpacked_end if self.chunks else 0


def ungroup4(data: Bytes, n: int) -> memoryview:
    """Undo byte grouping: group g holds bytes g, g+4, g+8, ... of the original (the first
    n % 4 groups one byte more). numpy writes each group as a strided column, ~2x Python's
    extended-slice assignment."""
    src = np.frombuffer(data, np.uint8)
    out = np.empty(n, np.uint8)
    whole, extra = divmod(n, 4)
    grid = out[: 4 * whole].reshape(whole, 4)
    start = 0
    for g in range(4):
        grid[:, g] = src[start : start + whole]
        if g < extra:
            out[4 * whole + g] = src[start + whole]
        start += whole + (g < extra)
    return out.data


def decompress_chunk(scheme: int, payload: Bytes, unpacked: int) -> Bytes:
    if scheme == 0:
        data: Bytes = payload
    elif scheme in (1, 2):
        try:
            data = lz4.frame.decompress(payload)
        except RuntimeError as exc:
            raise FormatError(f"bad LZ4 chunk: {exc}") from exc
        if scheme == 2 and len(data) == unpacked:
            data = ungroup4(data, unpacked)
    else:
        raise FormatError(f"unknown chunk compression scheme {scheme}")
    if len(data) != unpacked:
        raise FormatError("chunk decompresses to a length other than its header says")
    return data


class _Parts:
    """Sequential reads over a body received in parts: only bytes that straddle two parts are
    copied (a xorb is never joined into one 64 MiB buffer)."""

    def __init__(self, parts: Bytes | Iterable[Bytes]):
        self._parts = iter([parts] if isinstance(parts, bytes | memoryview) else parts)
        self._current = memoryview(b"")
        self.offset = 0  # bytes read so far

    def read(self, n: int) -> Bytes:
        """The next `n` bytes; fewer only at the end of the body."""
        if len(self._current) >= n:
            out: Bytes = self._current[:n]
            self._current = self._current[n:]
        else:
            pieces, missing = [self._current], n - len(self._current)
            while missing > 0 and (part := next(self._parts, None)) is not None:
                view = memoryview(part)
                pieces.append(view[:missing])
                self._current = view[missing:]
                missing -= len(pieces[-1])
            out = b"".join(pieces)
            if missing > 0:
                self._current = memoryview(b"")
        self.offset += len(out)
        return out

    def rest(self) -> bytes:
        out = b"".join([self._current, *self._parts])
        self._current = memoryview(b"")
        self.offset += len(out)
        return out


def _read_chunks(reader: _Parts) -> Iterator[tuple[int, Bytes]]:
    """(offset just past the chunk, uncompressed data) for each chunk, up to a footer."""
    while header := reader.read(8):
        if bytes(header[:7]) == FOOTER_MAGIC:
            _check_footer(bytes(header) + reader.rest())
            return
        if len(header) < 8:
            raise FormatError("truncated chunk header")
        stored = int.from_bytes(header[1:4], "little")
        unpacked = int.from_bytes(header[5:8], "little")
        if header[0] != 0 or not 0 < unpacked <= MAX_CHUNK:
            raise FormatError(f"invalid chunk header at offset {reader.offset - 8}")
        payload = reader.read(stored)
        if len(payload) < stored:
            raise FormatError("truncated chunk")
        yield reader.offset, decompress_chunk(header[4], payload, unpacked)


def _check_footer(footer: bytes) -> None:
    if len(footer) < 11 or int.from_bytes(footer[-4:], "little") != len(footer) - 4:
        raise FormatError("invalid xorb footer")


def iter_chunks(parts: Bytes | Iterable[Bytes]) -> Iterator[tuple[int, Bytes]]:
    """(offset just past the chunk, uncompressed data) for each chunk of xorb data."""
    return _read_chunks(_Parts(parts))


def parse_xorb(parts: Bytes | Iterable[Bytes], expected: bytes) -> ParsedXorb:
    """Decompress every chunk, re-hash it and check the Merkle root against `expected`."""
    chunks: list[XorbChunk] = []
    unpacked = data_length = 0
    for end, data in iter_chunks(parts):
        if end > MAX_XORB_BYTES:
            raise FormatError("xorb larger than 65 MiB")
        unpacked += len(data)
        data_length = end
        chunks.append(XorbChunk(chunk_hash(data), unpacked, end))
    if not chunks:
        raise FormatError("empty xorb")
    leaves = [
        (c.hash, c.unpacked_end - (chunks[i - 1].unpacked_end if i else 0))
        for i, c in enumerate(chunks)
    ]
    if merkle_root(leaves) != expected:
        raise FormatError("xorb content does not hash to the xorb hash in the URL")
    return ParsedXorb(expected, chunks, data_length)


# --- shards ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShardTerm:
    xorb: bytes
    unpacked: int
    chunk_start: int
    chunk_end: int
    verification: bytes | None


@dataclass(frozen=True)
class ShardFile:
    hash: bytes
    terms: list[ShardTerm]
    sha256: str | None  # conventional hex, from the metadata extension (a claim)


class _Reader:
    def __init__(self, body: bytes):
        self.body = body
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.body):
            raise FormatError("truncated shard")
        self.pos += n
        return self.body[self.pos - n : self.pos]

    def records(self, n: int) -> list[bytes]:
        if n * _RECORD > len(self.body) - self.pos:
            raise FormatError("shard entry count larger than the shard")
        return [self.take(_RECORD) for _ in range(n)]


def _parse_file(reader: _Reader, header: bytes) -> ShardFile:
    flags, count = struct.unpack_from("<II", header, 32)
    entries = reader.records(count)
    checks: list[bytes | None] = [None] * count
    if flags & _FLAG_VERIFICATION:
        checks = [r[:32] for r in reader.records(count)]
    sha256 = None
    if flags & _FLAG_METADATA:
        sha256 = hash_to_str(reader.records(1)[0][:32])
    terms = []
    for raw, check in zip(entries, checks, strict=True):
        _flags, unpacked, start, end = struct.unpack_from("<IIII", raw, 32)
        terms.append(ShardTerm(raw[:32], unpacked, start, end, check))
    return ShardFile(header[:32], terms, sha256)


def parse_shard(body: bytes) -> list[ShardFile]:
    """The file section of an uploaded shard; the xorb section is only walked (untrusted)."""
    if len(body) > MAX_SHARD_BYTES:
        raise FormatError("shard larger than 64 MiB")
    reader = _Reader(body)
    header = reader.take(48)
    version, footer_size = struct.unpack_from("<QQ", header, 32)
    if header[:32] != SHARD_TAG or version != 2:
        raise FormatError("not a version 2 shard")
    files = []
    while (record := reader.take(_RECORD)) != BOOKEND:
        files.append(_parse_file(reader, record))
    while (record := reader.take(_RECORD)) != BOOKEND:
        reader.records(struct.unpack_from("<I", record, 36)[0])
    if footer_size == 0 and reader.pos != len(body):
        raise FormatError("trailing bytes after the shard")
    return files


@dataclass(frozen=True)
class AdvertisedXorb:
    hash: bytes
    stored_size: int
    chunks: list[tuple[bytes, int]]  # (chunk hash, uncompressed length)


def _record(raw_hash: bytes, *words: int) -> bytes:
    return raw_hash + struct.pack("<IIII", *words)


def dedup_shard(xorbs: Sequence[AdvertisedXorb], *, key: bytes, now: int, expiry: int) -> bytes:
    """A dedup answer: a shard with no files, whose xorb chunk hashes are keyed with `key` so a
    client only recognises chunks it already has; lookup tables and footer included."""
    out = bytearray(SHARD_TAG + struct.pack("<QQ", 2, 200) + BOOKEND)
    xorb_offset = len(out)
    xorb_lookup: list[tuple[int, int]] = []
    chunk_lookup: list[tuple[int, int, int]] = []
    for xorb in xorbs:
        index = (len(out) - xorb_offset) // _RECORD
        total = sum(n for _h, n in xorb.chunks)
        out += _record(xorb.hash, 0, len(xorb.chunks), total, xorb.stored_size)
        xorb_lookup.append((int.from_bytes(xorb.hash[:8], "little"), index))
        position = 0
        for i, (raw, length) in enumerate(xorb.chunks):
            keyed = blake3.blake3(raw, key=key).digest()
            out += _record(keyed, position, length, 0, 0)
            chunk_lookup.append((int.from_bytes(keyed[:8], "little"), index, i))
            position += length
    out += BOOKEND
    lookup_offset = len(out)
    for word, index in sorted(xorb_lookup):
        out += struct.pack("<QI", word, index)
    chunk_offset = len(out)
    for word, index, i in sorted(chunk_lookup):
        out += struct.pack("<QII", word, index, i)
    footer_offset = len(out)
    materialized = sum(n for x in xorbs for _h, n in x.chunks)
    stored = sum(x.stored_size for x in xorbs)
    out += struct.pack(
        "<9Q",
        1,
        48,
        xorb_offset,
        lookup_offset,
        0,
        lookup_offset,
        len(xorb_lookup),
        chunk_offset,
        len(chunk_lookup),
    )
    out += key + struct.pack("<2Q", now, expiry) + bytes(48)
    out += struct.pack("<4Q", 0, materialized, stored, footer_offset)
    return bytes(out)
