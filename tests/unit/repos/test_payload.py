"""The commit body parser, fed the NDJSON huggingface_hub sends, cut at every awkward place."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import tracemalloc
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import aclosing
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationCopy, CommitOperationDelete
from huggingface_hub._commit_api import _CopySource, _prepare_commit_payload
from huggingface_hub.hf_api import RepoFile

from hugbox.repos.payload import (
    AddFile,
    AddLfsFile,
    CommitHeader,
    CopyFile,
    DeleteFile,
    DeleteFolder,
    Operation,
    PayloadError,
    parse_commit_payload,
)

Item = CommitHeader | Operation
HEADER = b'{"key": "header", "value": {"summary": "s"}}\n'
SHA = "ab" * 32


async def _stream(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _collect(parts: Iterable[bytes], spool: Path, max_meta_bytes: int) -> list[Item]:
    stream = parse_commit_payload(_stream(parts), spool, max_meta_bytes=max_meta_bytes)
    return [item async for item in stream]


def _parse(parts: Iterable[bytes], spool: Path, max_meta_bytes: int = 1 << 20) -> list[object]:
    return _summarize(asyncio.run(_collect(parts, spool, max_meta_bytes)))


def _summarize(items: list[Item]) -> list[object]:
    """Items with each AddFile replaced by (path, content), checking and deleting its spool."""
    summary: list[object] = []
    for item in items:
        if isinstance(item, AddFile):
            data = item.content.path.read_bytes()
            assert item.content.size == len(data)
            assert item.content.sha256 == hashlib.sha256(data).hexdigest()
            item.content.path.unlink()
            summary.append((item.path_in_repo, data))
        else:
            summary.append(item)
    return summary


def _chunks(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def _regular(path_in_repo: str, source: bytes | Path) -> CommitOperationAdd:
    operation = CommitOperationAdd(path_in_repo=path_in_repo, path_or_fileobj=source)
    operation._upload_mode = "regular"  # what preupload would have answered
    return operation


def _hf_body(tmp_path: Path) -> tuple[bytes, list[object]]:
    """A body from huggingface_hub's own payload builder, and what parsing it must give."""
    on_disk = tmp_path / "config.json"
    on_disk.write_bytes(b'{"a": "b/c"}\n')
    noise = random.Random(1).randbytes(300_000)
    lfs = CommitOperationAdd(path_in_repo="model.safetensors", path_or_fileobj=b"weights" * 9)
    lfs._upload_mode = "lfs"
    copied = RepoFile(
        path="w.bin", size=5, oid="1" * 40, lfs={"size": 5, "oid": SHA, "pointerSize": 9}
    )
    operations = [
        _regular("README.md", "# Hëllo 🤗\n".encode()),
        _regular("sub dir/config.json", on_disk),
        _regular("noise.bin", noise),
        _regular("empty.txt", b""),
        lfs,
        CommitOperationDelete(path_in_repo="old.txt"),
        CommitOperationDelete(path_in_repo="old-dir/"),
        CommitOperationCopy(src_path_in_repo="a.txt", path_in_repo="b.txt"),
        CommitOperationCopy(src_path_in_repo="w.bin", path_in_repo="w2.bin"),
    ]
    payload = _prepare_commit_payload(
        operations=operations,
        files_to_copy={
            _CopySource(None, None, "a.txt", None): b"copied",
            _CopySource(None, None, "w.bin", None): copied,
        },
        commit_message='Upload 🤗 "things"',
        commit_description="line 1\nline 2",
        parent_commit="0123456789abcdef0123456789abcdef01234567",
    )
    body = b"".join(json.dumps(item).encode() + b"\n" for item in payload)
    expected = [
        CommitHeader(
            'Upload 🤗 "things"', "line 1\nline 2", "0123456789abcdef0123456789abcdef01234567"
        ),
        ("README.md", "# Hëllo 🤗\n".encode()),
        ("sub dir/config.json", b'{"a": "b/c"}\n'),
        ("noise.bin", noise),
        ("empty.txt", b""),
        AddLfsFile("model.safetensors", hashlib.sha256(b"weights" * 9).hexdigest(), 63),
        DeleteFile("old.txt"),
        DeleteFolder("old-dir/"),
        ("b.txt", b"copied"),
        AddLfsFile("w2.bin", SHA, None),
    ]
    return body, expected


def test_huggingface_hub_payload_in_one_chunk(tmp_path: Path) -> None:
    body, expected = _hf_body(tmp_path)
    spool = tmp_path / "spool"
    spool.mkdir()
    assert _parse([body], spool) == expected
    assert list(spool.iterdir()) == []  # _summarize deleted them: nothing else was left behind


@pytest.mark.parametrize("seed", range(5))
def test_huggingface_hub_payload_in_random_chunks(tmp_path: Path, seed: int) -> None:
    body, expected = _hf_body(tmp_path)
    rng = random.Random(seed)
    parts, pos = [], 0
    while pos < len(body):
        size = rng.choice([1, 2, 3, 5, 7, 64, 1000, 65536, 1 << 20])
        parts.append(body[pos : pos + size])
        pos += size
    assert _parse(parts, tmp_path) == expected


def _escaped_body() -> tuple[bytes, list[object]]:
    """A small body full of escapes: \\/ in base64, \\uXXXX pairs, utf-8 content either side."""
    text = 'tab\t nl\n quote" back\\ slash/ é 🤗 \x01 \u2028'
    data = bytes(range(256))
    lines = [
        {"key": "header", "value": {"summary": "Ünïcode 🤗", "description": "a/b"}},
        {"key": "file", "value": {"content": base64.b64encode(data).decode(), "path": "b/64"}},
        {"key": "file", "value": {"encoding": "utf-8", "content": text, "path": "t1"}},
        {"value": {"content": text, "path": "t2", "encoding": "UTF8"}, "key": "file"},
        {"key": "file", "value": {"content": "QR==", "path": "t3", "encoding": "utf-8"}},
        {"key": "file", "value": {"content": 'end \\"\\', "path": "t4", "encoding": "utf-8"}},
        {"key": "lfsFile", "value": {"path": "l", "algo": "sha256", "oid": SHA.upper()}},
        {"key": "file", "value": {"path": "moved", "oldPath": "t1"}},
    ]
    ascii_lines = [json.dumps(line).replace("/", "\\/") for line in lines]
    utf8_lines = [json.dumps(line, ensure_ascii=False) for line in lines[2:4]]
    body = "\n".join([*ascii_lines, *utf8_lines, ""]).encode()
    expected: list[object] = [
        CommitHeader("Ünïcode 🤗", "a/b", None),
        ("b/64", data),
        ("t1", text.encode()),
        ("t2", text.encode()),
        ("t3", b"QR=="),
        ("t4", b'end \\"\\'),
        AddLfsFile("l", SHA, None),
        CopyFile(src_path="t1", path_in_repo="moved"),
        ("t1", text.encode()),
        ("t2", text.encode()),
    ]
    return body, expected


@pytest.mark.slow  # parses the body once per byte boundary: 5 to 9 s on 2 cores
def test_escapes_split_at_every_byte_boundary(tmp_path: Path) -> None:
    body, expected = _escaped_body()
    assert _parse(_chunks(body, 1), tmp_path) == expected

    async def every_split() -> list[list[Item]]:
        return [await _collect([body[:i], body[i:]], tmp_path, 1 << 20) for i in range(len(body))]

    for items in asyncio.run(every_split()):
        assert _summarize(items) == expected


def test_text_content_before_its_encoding_is_kept_verbatim(tmp_path: Path) -> None:
    # Read as base64 until "encoding" shows up: valid base64, then not, then padded oddly.
    for text in ["abcd", "abcdefgh!", "QUJD" * 1000 + "?", "QQ==QQ==", "é"]:
        line = {"key": "file", "value": {"content": text, "path": "p", "encoding": "utf-8"}}
        body = HEADER + json.dumps(line).encode()
        for size in (1, 3, 1 << 20):
            assert _parse(_chunks(body, size), tmp_path)[1:] == [("p", text.encode())]


def test_unknown_fields_blank_lines_and_missing_final_newline(tmp_path: Path) -> None:
    body = (
        b'\r\n{"key": "header", "extra": [1, {"a": [true, null]}], "value": {"summary": "s",'
        b' "parentCommit": null, "x": {"y": [1.5e3, -2, "\\u00e9"]}}}\r\n\n \n'
        b'{"key":"deletedFile","value":{"path":"a","content":"ignored","size":{}}}'
    )
    assert _parse([body], tmp_path) == [CommitHeader("s", "", None), DeleteFile("a")]


def test_value_before_key_and_a_stray_content_field(tmp_path: Path) -> None:
    body = HEADER + b'{"value": {"content": "QUJD", "path": "a"}, "key": "deletedFile"}\n'
    body += b'{"value": {"content": "QUJD", "path": "b"}, "key": "file"}'
    assert _parse([body], tmp_path)[1:] == [DeleteFile("a"), ("b", b"ABC")]
    assert list(tmp_path.iterdir()) == []


def test_max_meta_bytes_bounds_paths_but_not_content(tmp_path: Path) -> None:
    content = base64.b64encode(b"x" * 3000).decode()
    line = {"key": "file", "value": {"content": content, "path": "p" * 100}}
    body = HEADER + json.dumps(line).encode()
    assert _parse([body], tmp_path, max_meta_bytes=100) == [
        CommitHeader("s", "", None),
        ("p" * 100, b"x" * 3000),
    ]
    with pytest.raises(PayloadError, match="line 2: 'path' is longer than 99 bytes"):
        _parse([body], tmp_path, max_meta_bytes=99)
    assert list(tmp_path.iterdir()) == []


def _line(value: str, key: str = "file") -> bytes:
    # latin-1 so that "\xff" stays one invalid byte
    return HEADER + b'{"key": "' + key.encode() + b'", "value": ' + value.encode("latin-1") + b"}\n"


MALFORMED = [
    (b"", "line 1: empty payload"),
    (b"\n\r\n", "line 3: empty payload"),
    (
        b'{"key": "deletedFile", "value": {"path": "a"}}',
        "line 1: the first line must be the commit header, not .deletedFile.",
    ),
    (HEADER + HEADER, "line 2: the commit header must come once, on the first line"),
    (b'{"key": "header", "value": {}}', "line 1: missing 'summary'"),
    (b'{"key": "header", "value": {"summary": 1}}', "'summary' must be a string, not a number"),
    (b'{"key": "header",\n"value": {"summary": "s"}}', "line 1: .*found the end of the line"),
    (HEADER + b"[1]", "line 2: invalid JSON: expected a JSON object, found '\\['"),
    (HEADER + b'{"key": "bogus", "value": {}}', "line 2: unknown 'key' 'bogus'"),
    (HEADER + b'{"key": 1, "value": {}}', "unknown 'key' 1"),
    (HEADER + b'{"value": {"path": "a"}}', "line 2: missing 'key'"),
    (HEADER + b'{"key": "deletedFile"}', "line 2: missing 'value'"),
    (_line('"a"', "deletedFile"), "'value' must be an object"),
    (_line('{"content": "QUJD"}'), "line 2: missing 'path'"),
    (_line('{"path": "a"}'), "missing 'content'"),
    (_line('{"content": null, "path": "a"}'), "'content' must be a string"),
    (
        _line('{"content": "QUJD", "path": ["a"]}'),
        "'path' must be a string, not an object or array",
    ),
    (_line('{"content": "QUJD", "path": true}'), "'path' must be a string, not a boolean"),
    (_line('{"content": "QUJ$", "path": "a"}'), "line 2: invalid base64 in 'content'"),
    (_line('{"encoding": "base64", "content": "QUJ$", "path": "a"}'), "invalid base64"),
    (_line('{"content": "QUJDR", "path": "a"}'), "invalid base64"),
    (_line('{"content": "QQ==QUJD", "path": "a"}'), "invalid base64"),
    (_line('{"content": "QUJD\\n", "path": "a"}'), "invalid base64"),
    (_line('{"content": "QUJD", "path": "a", "encoding": "latin-1"}'), "'encoding' must be"),
    (_line('{"content": "x", "encoding": 5, "path": "a"}'), "'encoding' must be"),
    (_line('{"content": "QUJD", "oldPath": "b", "path": "a"}'), "either 'content' or 'oldPath'"),
    (_line('{"content": "QUJD", "path": "a", "path": "b"}'), "line 2: duplicate 'path'"),
    (_line('{"content": "QUJD", "content": "QUJD", "path": "a"}'), "duplicate 'content'"),
    (HEADER + b'{"key": "file", "key": "file"}', "duplicate 'key'"),
    (HEADER + b'{"key": "file", "value": {}, "value": {}}', "duplicate 'value'"),
    (_line('{"content": "QUJD", "path": "a",}'), "invalid JSON: expected a key, found '}'"),
    (HEADER + b'{"key": "file" "value": {}}', "invalid JSON: expected ',' or '}'"),
    (HEADER + b'{"key" "file"}', "invalid JSON: expected ':'"),
    (_line('{"content": "QUJD", "path": "a"}')[:-1] + b" x", "line 2: unexpected 'x' after"),
    (_line('{"content": "QUJD", "path": "a"}')[:-3], "line 2: .*the end of the body"),
    (HEADER + b'{"key": "file", "value": {"content": "QUJD', "end of the body .* inside 'content'"),
    (HEADER + b'{"key": "file", "value": {"content": "QUJD\\', "end of the body"),
    (HEADER + b'{"key": "file", "value": {"path": "a\\u00', "end of the body"),
    (_line('{"content": "QUJD", "path": "a\\x"}'), "bad escape '\\\\x'"),
    (_line('{"content": "QUJD", "path": "a\\ud800"}'), "bad escape"),
    (_line('{"content": "QUJD", "path": "a\\udc00"}'), "bad escape"),
    (_line('{"content": "QUJD", "path": "a\\ud800\\u0041"}'), "bad escape"),
    (_line('{"content": "QUJD", "path": "a\\u12"}'), "bad escape"),
    (_line('{"content": "QUJD", "path": "a\tb"}'), "line 2: invalid JSON: raw control character"),
    (_line('{"content": "a\x01", "path": "a", "encoding": "utf-8"}'), "raw control character"),
    (_line('{"encoding": "utf-8", "content": "a\x01", "path": "a"}'), "raw control character"),
    (
        _line('{"content": "' + "QUJD" * 999 + 'QUJ\x01", "path": "a", "encoding": "utf-8"}'),
        "raw control",
    ),
    (
        _line('{"content": "QUJ\x01' + "QUJD" * 999 + '", "path": "a", "encoding": "utf-8"}'),
        "raw control",
    ),
    (
        _line('{"content": "\xff", "path": "a", "encoding": "utf-8"}'),
        "'content' is not valid UTF-8",
    ),
    (_line('{"content": "QUJD", "path": "\xff"}'), "'path' is not valid UTF-8"),
    (_line('{"content": "hello!", "path": "a", "encoding": "base64"}'), "invalid base64"),
    (_line('{"path": "a", "n": 01}', "deletedFile"), "invalid JSON: expected a value, found .01."),
    (_line('{"path": "a", "n": tru}', "deletedFile"), "expected a value, found .tru."),
    (
        _line('{"path": "a", "n": 1' + "0" * 300 + "}", "deletedFile"),
        "expected a value, found .10000",
    ),
    (_line('{"path": "a", "n": }', "deletedFile"), "expected a value, found '}'"),
    (_line('{"path": "a", "n": [1 2]}', "deletedFile"), "expected ',' or ']'"),
    (_line('{"path": "a", "n": [1, ]}', "deletedFile"), "expected a value, found ']'"),
    (_line('{"path": "a", "n": {"a": 1, }}', "deletedFile"), "expected a key, found '}'"),
    (_line('{"path": "a", "n": ' + "[" * 40 + "]" * 40 + "}", "deletedFile"), "nested too deeply"),
    (
        _line(f'{{"path": "a", "algo": "md5", "oid": "{SHA}"}}', "lfsFile"),
        "'algo' must be 'sha256'",
    ),
    (_line('{"path": "a", "oid": "abc"}', "lfsFile"), "'oid' must be a sha256 hex digest"),
    (_line('{"path": "a"}', "lfsFile"), "missing 'oid'"),
    (_line(f'{{"path": "a", "oid": "{SHA}", "size": -1}}', "lfsFile"), "'size' must be a non-neg"),
    (_line(f'{{"path": "a", "oid": "{SHA}", "size": true}}', "lfsFile"), "not a boolean"),
    (_line(f'{{"path": "a", "oid": "{SHA}", "size": 1.5}}', "lfsFile"), "not a number"),
    (_line('{"path": null}', "deletedFolder"), "'path' must be a string, not null"),
]


@pytest.mark.parametrize(("body", "message"), MALFORMED, ids=[m for _, m in MALFORMED])
def test_malformed_payload_is_refused_and_leaves_no_spool_file(
    tmp_path: Path, body: bytes, message: str
) -> None:
    for size in (1, 1 << 20):
        with pytest.raises(PayloadError, match=message):
            _parse(_chunks(body, size), tmp_path)
        assert list(tmp_path.iterdir()) == []


def test_failure_deletes_files_already_yielded(tmp_path: Path) -> None:
    body = _line('{"content": "QUJD", "path": "a"}') + b'{"key": "nope"}\n'
    seen: list[Item] = []

    async def consume() -> None:
        async for item in parse_commit_payload(_stream([body]), tmp_path):
            seen.append(item)

    with pytest.raises(PayloadError, match="line 3: unknown 'key' 'nope'"):
        asyncio.run(consume())
    assert isinstance(seen[-1], AddFile)
    assert list(tmp_path.iterdir()) == []


def test_abandoned_iteration_deletes_its_spool_files(tmp_path: Path) -> None:
    body = HEADER + 2 * b'{"key": "file", "value": {"content": "QUJD", "path": "a"}}\n'

    async def first_file() -> None:
        async with aclosing(parse_commit_payload(_stream([body]), tmp_path)) as items:
            async for item in items:
                if isinstance(item, AddFile):
                    break

    asyncio.run(first_file())
    assert list(tmp_path.iterdir()) == []


def _big_body(size: int, chunk: int) -> tuple[Iterator[bytes], hashlib._Hash]:
    """A header and one file of `size` random-ish bytes, base64 in chunks made on demand."""
    block = random.Random(0).randbytes(chunk // 4 * 3)
    expected = hashlib.sha256()

    def generate() -> Iterator[bytes]:
        text = base64.b64encode(block)
        # Three base64 characters ride with the prefix, so every later chunk splits a quad.
        yield HEADER + b'{"key": "file", "value": {"content": "' + text[:3]
        left = size
        while left > len(block):
            expected.update(block)
            left -= len(block)
            yield text[3:] + text[:3]  # the rest of this block, the start of the next
        expected.update(block[:left])
        yield base64.b64encode(block[:left])[3:] + b'", "path": "big.bin"}}\n'

    return generate(), expected


def test_64_mib_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    size = 64 << 20
    chunks, expected = _big_body(size, 64 << 10)
    tracemalloc.start()
    try:
        items = asyncio.run(_collect(chunks, tmp_path, 1 << 20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    added = items[1]
    assert isinstance(added, AddFile)
    assert (added.content.size, added.content.sha256) == (size, expected.hexdigest())
    assert added.content.path.stat().st_size == size
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB"
