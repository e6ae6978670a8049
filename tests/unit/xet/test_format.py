"""Xet hashes, xorbs and shards, checked against hf_xet itself where it exposes them."""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import hf_xet
import lz4.frame
import pytest

from hugbox.xet import format as fmt
from xet_wire import FileEntry, shard, xorb


def test_hash_string_reverses_each_8_byte_group() -> None:
    raw = bytes(range(32))
    text = "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918"
    assert fmt.hash_to_str(raw) == text
    assert fmt.str_to_hash(text) == raw


def test_file_hash_of_a_one_chunk_file_matches_hf_xet(tmp_path: Path) -> None:
    data = os.urandom(5000)
    (tmp_path / "f").write_bytes(data)
    [info] = hf_xet.hash_files([str(tmp_path / "f")])
    assert fmt.hash_to_str(fmt.file_hash([(fmt.chunk_hash(data), len(data))])) == info.hash


def test_merkle_root_groups_at_most_nine_children() -> None:
    leaves = [(hashlib.sha256(bytes([i])).digest(), 10) for i in range(100)]
    assert fmt.merkle_root(leaves) != fmt.merkle_root(leaves[:99])
    assert fmt.merkle_root(leaves[:1]) == leaves[0][0]
    assert fmt.merkle_root([]) == fmt.ZERO_HASH


def _chunk(scheme: int, payload: bytes, unpacked: int) -> bytes:
    header = bytes([0]) + len(payload).to_bytes(3, "little") + bytes([scheme])
    return header + unpacked.to_bytes(3, "little") + payload


def _grouped(data: bytes) -> bytes:
    return b"".join(data[g::4] for g in range(4))


def test_xorb_with_lz4_and_byte_grouped_chunks_verifies() -> None:
    text = b"the quick brown fox jumps over the lazy dog\n" * 300
    floats = struct.pack("<1001f", *[i / 7 for i in range(1001)])
    body = _chunk(1, lz4.frame.compress(text), len(text))
    body += _chunk(2, lz4.frame.compress(_grouped(floats)), len(floats))
    leaves = [(fmt.chunk_hash(text), len(text)), (fmt.chunk_hash(floats), len(floats))]
    parsed = fmt.parse_xorb(body, fmt.merkle_root(leaves))
    assert [c.unpacked_end for c in parsed.chunks] == [len(text), len(text) + len(floats)]
    assert parsed.chunks[-1].stored_end == len(body)
    assert b"".join(d for _end, d in fmt.iter_chunks(body)) == text + floats


def test_xorb_verifies_the_same_in_any_split_into_parts() -> None:
    floats = struct.pack("<3001f", *[i / 7 for i in range(3001)])
    chunks = [b"a" * 1000, floats[:4097], floats[4097:]]
    body = _chunk(0, chunks[0], 1000)
    body += b"".join(_chunk(2, lz4.frame.compress(_grouped(c)), len(c)) for c in chunks[1:])
    leaves = [(fmt.chunk_hash(c), len(c)) for c in chunks]
    whole = fmt.parse_xorb(body, fmt.merkle_root(leaves))
    for size in (1, 7, 8, 4096):
        parts = [body[i : i + size] for i in range(0, len(body), size)]
        assert fmt.parse_xorb(parts, fmt.merkle_root(leaves)) == whole
    assert b"".join(d for _end, d in fmt.iter_chunks([body[:5], body[5:]])) == b"".join(chunks)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 64 * 1024 + 3])
def test_ungroup4_inverts_byte_grouping(n: int) -> None:
    data = os.urandom(n)
    assert bytes(fmt.ungroup4(_grouped(data), n)) == data


def test_an_old_style_footer_is_accepted_and_not_kept() -> None:
    name, body = xorb([b"a" * 1000, b"b" * 2000])
    footer = fmt.FOOTER_MAGIC + bytes(20)
    footer += len(footer).to_bytes(4, "little")
    parsed = fmt.parse_xorb([body, footer], fmt.str_to_hash(name))
    assert parsed.data_length == len(body)
    with pytest.raises(fmt.FormatError, match="footer"):
        fmt.parse_xorb(body + footer[:-4] + bytes(4), fmt.str_to_hash(name))


def test_forged_xorb_is_rejected() -> None:
    name, body = xorb([b"a" * 1000, b"b" * 2000])
    forged = body[:-1] + b"c"
    with pytest.raises(fmt.FormatError, match="does not hash"):
        fmt.parse_xorb(forged, fmt.str_to_hash(name))
    with pytest.raises(fmt.FormatError):
        fmt.parse_xorb(body[:-5], fmt.str_to_hash(name))


def test_shard_round_trip_keeps_the_sha256_claim() -> None:
    name, _body = xorb([b"x" * 100])
    sha = hashlib.sha256(b"x" * 100).hexdigest()
    [parsed] = fmt.parse_shard(shard([FileEntry(name, [b"x" * 100], sha)]))
    assert parsed.sha256 == sha
    assert [(fmt.hash_to_str(t.xorb), t.chunk_start, t.chunk_end) for t in parsed.terms] == [
        (name, 0, 1)
    ]
    with pytest.raises(fmt.FormatError):
        fmt.parse_shard(shard([FileEntry(name, [b"x" * 100], sha)]) + b"extra")


def test_dedup_shard_has_keyed_chunks_and_a_footer() -> None:
    advertised = fmt.AdvertisedXorb(bytes(32), 1234, [(b"\x01" * 32, 10), (b"\x02" * 32, 20)])
    body = fmt.dedup_shard([advertised], key=b"k" * 32, now=1, expiry=2)
    footer = body[-200:]
    assert struct.unpack_from("<Q", footer, 192)[0] == len(body) - 200
    assert struct.unpack_from("<Q", body, 40)[0] == 200
    assert b"\x01" * 32 not in body  # chunk hashes only appear keyed
