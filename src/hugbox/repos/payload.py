"""Streaming parser for the NDJSON body of `POST /api/{type}s/{repo}/commit/{rev}`."""

from __future__ import annotations

import binascii
import codecs
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# One line may carry a base64 file of several GiB: strings are decoded in pieces of at most
# _PIECE bytes, so memory stays bounded while each step is big enough to run at C speed.
_PIECE = 1 << 20
_MAX_ESCAPE = 12  # longest escape: a surrogate pair, \ud83d\ude00
_MAX_DEPTH = 32  # nesting allowed inside fields we skip
_MAX_TOKEN = 256  # longest number or literal
_NEWLINE, _QUOTE = ord("\n"), ord('"')
_SPACES = b" \t\r"
_TOKEN_CHARS = frozenset(b"+-.0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CONTROLS = bytes(range(0x20))
# A base64 sink rejects control characters itself, except in the <= 7 bytes it holds back
# undecoded: those come from the last 7 escapes (6 bytes each) or characters of the string.
_HELD_BACK = 64
_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|(.))", re.DOTALL)
_SIMPLE_ESCAPES = {b'"': b'"', b"\\": b"\\", b"/": b"/", b"b": b"\b", b"f": b"\f", b"n": b"\n"}
_SIMPLE_ESCAPES |= {b"r": b"\r", b"t": b"\t"}
_NUMBER = re.compile(rb"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LITERALS: dict[bytes, bool | None] = {b"true": True, b"false": False, b"null": None}
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_FIELDS = frozenset({"summary", "description", "parentCommit", "path", "oldPath", "encoding"})
_FIELDS |= {"algo", "oid", "size"}


class PayloadError(ValueError):
    """The commit body is malformed; the message says where and why (the API answers 400)."""


_Fail = Callable[[str], PayloadError]
# Receives the unescaped pieces of a string; True vouches that it rejects control characters.
_Sink = Callable[[bytes], bool]


@dataclass(frozen=True)
class CommitHeader:
    summary: str
    description: str
    parent_commit: str | None


@dataclass(frozen=True)
class SpooledFile:
    """Decoded content of a regular file, in a temp file under the spool directory."""

    path: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class AddFile:
    path_in_repo: str
    content: SpooledFile


@dataclass(frozen=True)
class AddLfsFile:
    """An LFS object uploaded beforehand; huggingface_hub leaves size out when it copies."""

    path_in_repo: str
    oid: str
    size: int | None


@dataclass(frozen=True)
class CopyFile:
    """A file or lfsFile line with `oldPath` (and no content): copy src_path on the server.

    Whether the source is also removed (a move) is the caller's policy; any oid/size sent
    along is ignored, the source decides.
    """

    src_path: str
    path_in_repo: str


@dataclass(frozen=True)
class DeleteFile:
    path_in_repo: str


@dataclass(frozen=True)
class DeleteFolder:
    path_in_repo: str


Operation = AddFile | AddLfsFile | CopyFile | DeleteFile | DeleteFolder


async def parse_commit_payload(
    chunks: AsyncIterable[bytes], spool_dir: Path, *, max_meta_bytes: int = 1 << 20
) -> AsyncIterator[CommitHeader | Operation]:
    """Yield the commit header, then each operation, while the body streams in.

    File contents are written to temp files in spool_dir; they are the caller's once the
    iteration completes. If it fails (PayloadError) or is abandoned, every spool file it
    created is deleted, those already yielded included: a commit is all or nothing.
    """
    reader = _Reader(aiter(chunks), max_meta_bytes)
    spools = _Spools(spool_dir)
    try:
        first = True
        while await reader.start_line():
            yield await _LineParser(reader, spools, first=first).parse()
            first = False
        if first:
            raise reader.error("empty payload: the first line must be the commit header")
    except BaseException:
        spools.delete_all()
        raise


class _Reader:
    """A cursor over the body's chunks that reads the JSON pieces commit lines are made of."""

    def __init__(self, chunks: AsyncIterator[bytes], max_meta_bytes: int) -> None:
        self._chunks = chunks
        self._buf = b""
        self._pos = 0
        self.line = 1
        self.max_meta_bytes = max_meta_bytes

    def error(self, message: str) -> PayloadError:
        return PayloadError(f"line {self.line}: {message}")

    async def _fill(self) -> bool:
        """Append the next chunk to the unread bytes; False at the end of the body."""
        async for chunk in self._chunks:
            if chunk:
                self._buf = self._buf[self._pos :] + chunk
                self._pos = 0
                return True
        return False

    async def peek(self) -> int:
        """The next byte after spaces (not newlines: they end records), or -1 at the end."""
        while True:
            buf, pos = self._buf, self._pos
            while pos < len(buf) and buf[pos] in _SPACES:
                pos += 1
            self._pos = pos
            if pos < len(buf):
                return buf[pos]
            if not await self._fill():
                return -1

    async def consume(self, char: bytes) -> bool:
        if await self.peek() != char[0]:
            return False
        self._pos += 1
        return True

    async def expect(self, char: bytes, what: str) -> None:
        if not await self.consume(char):
            raise self.error(f"invalid JSON: expected {what}, found {_describe(await self.peek())}")

    async def start_line(self) -> bool:
        """Skip blank lines; False once the body is over."""
        while (found := await self.peek()) == _NEWLINE:
            self._pos += 1
            self.line += 1
        return found != -1

    async def end_line(self) -> None:
        found = await self.peek()
        if found == _NEWLINE:
            self._pos += 1
            self.line += 1
        elif found != -1:
            raise self.error(f"unexpected {_describe(found)} after the object (one per line)")

    async def read_object(self, on_member: Callable[[str], Awaitable[None]], what: str) -> None:
        """Read an object, calling on_member(name) with the cursor on each member's value."""
        await self.expect(b"{", what)

        async def member() -> None:
            name = await self.read_text("a key")
            await self.expect(b":", "':'")
            await on_member(name)

        await self._read_items(b"}", member)

    async def _read_items(self, close: bytes, read_item: Callable[[], Awaitable[None]]) -> None:
        """Read comma-separated items up to `close`, the opening bracket being consumed."""
        if await self.consume(close):
            return
        while True:
            await read_item()
            if await self.consume(close):
                return
            await self.expect(b",", f"',' or '{close.decode()}'")

    async def read_value(self, name: str) -> _Value:
        """A field's value: strings bounded by max_meta_bytes, objects and arrays skipped."""
        found = await self.peek()
        if found == _QUOTE:
            return await self.read_text(f"'{name}'")
        if found in (ord("{"), ord("[")):
            await self.skip_value()
            return _NESTED
        return await self.read_scalar()

    async def skip_value(self, depth: int = 0) -> None:
        if depth > _MAX_DEPTH:
            raise self.error("JSON nested too deeply")
        found = await self.peek()
        if found == _QUOTE:
            await self.read_string(lambda _: False, "a string")
        elif found == ord("{"):
            await self.read_object(lambda _: self.skip_value(depth + 1), "an object")
        elif found == ord("["):
            await self.expect(b"[", "an array")
            await self._read_items(b"]", lambda: self.skip_value(depth + 1))
        else:
            await self.read_scalar()

    async def read_text(self, what: str) -> str:
        """A JSON string of at most max_meta_bytes bytes."""
        parts: list[bytes] = []
        size = 0

        def collect(data: bytes) -> bool:
            nonlocal size
            size += len(data)
            if size > self.max_meta_bytes:
                raise self.error(f"{what} is longer than {self.max_meta_bytes} bytes")
            parts.append(data)
            return False

        await self.read_string(collect, what)
        try:
            return b"".join(parts).decode()
        except UnicodeDecodeError:
            raise self.error(f"{what} is not valid UTF-8") from None

    async def read_scalar(self) -> int | float | bool | None:
        await self.peek()
        while len(self._buf) - self._pos <= _MAX_TOKEN and await self._fill():
            pass  # a whole token is short: buffer it, then look
        buf, start = self._buf, self._pos
        end = start
        while end < len(buf) and buf[end] in _TOKEN_CHARS:
            end += 1
        token, self._pos = buf[start:end], end
        if token in _LITERALS:
            return _LITERALS[token]
        match = _NUMBER.fullmatch(token)
        if match is None or end - start > _MAX_TOKEN:
            found = repr(token[:20].decode()) if token else _describe(await self.peek())
            raise self.error(f"invalid JSON: expected a value, found {found}")
        return float(token) if match.group(1) or match.group(2) else int(token)

    async def read_string(self, sink: _Sink, what: str) -> None:
        """Stream the string at the cursor into sink, unescaped, without holding all of it."""
        await self.expect(b'"', what)
        while True:
            before = self._pos
            if self._scan_string(sink):
                return
            if self._pos == before and not await self._fill():
                raise self.error(f"{_describe(-1)} inside {what}")

    def _scan_string(self, sink: _Sink) -> bool:
        """Feed sink from the buffered part of the string; True once its closing quote is read."""
        buf, start = self._buf, self._pos
        quote = _closing_quote(buf, start, min(len(buf), start + _PIECE))
        raw = buf[start : quote if quote >= 0 else start + _PIECE]
        text, used = _unescape(raw, quote >= 0, self.error)
        checked = raw[-_HELD_BACK:] if text and sink(text) else raw
        if len(checked.translate(None, _CONTROLS)) != len(checked):
            raise self.error("invalid JSON: raw control character (or line break) in a string")
        self._pos = quote + 1 if quote >= 0 else start + used
        return quote >= 0


def _describe(byte: int) -> str:
    if byte == -1:
        return "the end of the body (truncated payload?)"
    if byte == _NEWLINE:
        return "the end of the line"
    return repr(chr(byte)) if 0x20 < byte < 0x7F else f"byte 0x{byte:02x}"


def _closing_quote(buf: bytes, start: int, stop: int) -> int:
    """Index of the first unescaped '"' in buf[start:stop], or -1."""
    quote = buf.find(b'"', start, stop)
    while quote > start and buf[quote - 1] == ord("\\"):
        # Escaped only if an odd run of backslashes precedes it (\\" ends the string).
        run = quote - 1
        while run > start and buf[run - 1] == ord("\\"):
            run -= 1
        if (quote - run) % 2 == 0:
            break
        quote = buf.find(b'"', quote + 1, stop)
    return quote


def _unescape(raw: bytes, final: bool, fail: Callable[[str], PayloadError]) -> tuple[bytes, int]:
    """Decode raw's escapes: (bytes, how much of raw was used); a cut-off escape waits."""
    if b"\\" not in raw:
        return raw, len(raw)
    fast = raw.replace(b"\\/", b"/")  # some encoders escape every '/', frequent in base64
    if b"\\" not in fast:
        return fast, len(raw)
    out = bytearray()
    pos = 0
    while (start := raw.find(b"\\", pos)) >= 0:
        out += raw[pos:start]
        decoded, pos = _decode_escape(raw, start)
        if decoded is None:
            if not final and len(raw) - start < _MAX_ESCAPE:
                return bytes(out), start
            bad = raw[start : start + 6].decode(errors="replace")
            raise fail(f"invalid JSON: bad escape '{bad}' in a string")
        out += decoded
    out += raw[pos:]
    return bytes(out), len(raw)


def _decode_escape(raw: bytes, start: int) -> tuple[bytes | None, int]:
    """What the escape at raw[start] stands for and where it ends; None if bad or cut off."""
    match = _ESCAPE.match(raw, start)
    if match is None:
        return None, start
    if match.group(2) is not None:
        return _SIMPLE_ESCAPES.get(match.group(2)), match.end()
    code = int(match.group(1), 16)
    if 0xD800 <= code < 0xDC00:  # characters beyond U+FFFF are spelled as a surrogate pair
        low = _ESCAPE.match(raw, match.end())
        low_code = int(low.group(1), 16) if low and low.group(1) else 0
        if low is None or not 0xDC00 <= low_code < 0xE000:
            return None, start
        code = 0x10000 + ((code - 0xD800) << 10) + (low_code - 0xDC00)
        return chr(code).encode(), low.end()
    if 0xDC00 <= code < 0xE000:
        return None, start
    return chr(code).encode(), match.end()


class _Nested:
    """Stands for an object or array value: only fields we skip may hold one."""


_NESTED = _Nested()
_Value = str | int | float | bool | None | _Nested
_KINDS = {str: "a string", int: "a number", float: "a number", bool: "a boolean"}
_KINDS |= {type(None): "null", _Nested: "an object or array"}


class _Spool:
    """A temp file receiving decoded content while its size and sha256 are computed."""

    def __init__(self, directory: Path) -> None:
        fd, name = tempfile.mkstemp(prefix="commit-", suffix=".part", dir=directory)
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._sha256 = hashlib.sha256()
        self._size = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._sha256.update(data)
        self._size += len(data)

    def read_back(self, block: int) -> Iterator[bytes]:
        self._file.flush()
        with self.path.open("rb") as file:
            while data := file.read(block):
                yield data

    def close(self) -> SpooledFile:
        self._file.close()
        return SpooledFile(self.path, self._size, self._sha256.hexdigest())

    def discard(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


class _Spools:
    """The spool files of one payload, remembered so that a failure can delete them all."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._created: list[_Spool] = []

    def new(self) -> _Spool:
        self._created.append(_Spool(self._directory))
        return self._created[-1]

    def delete_all(self) -> None:
        for spool in self._created:
            spool.discard()


class _ContentWriter:
    """Streams one 'content' string into a spool file, whatever order 'encoding' comes in.

    huggingface_hub sends 'content' before 'encoding', so until 'encoding' is known the text
    is decoded as base64, the default. Should it turn out not to be base64, or 'encoding' say
    utf-8, the bytes decoded so far are re-encoded: decoding strict base64 loses nothing.
    """

    def __init__(self, spools: _Spools, encoding: str | None, fail: _Fail) -> None:
        self._spools = spools
        self._spool = spools.new()
        self._encoding = encoding
        self._fail = fail
        self._base64 = encoding != "utf-8"
        self._pending = b""  # a partial quad, or a padded quad and whatever follows it
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._not_base64 = ""  # why the text turned out not to be base64

    def feed(self, text: bytes) -> bool:
        """Take the next piece; True while decoding base64, which refuses control characters."""
        with self._client_errors():
            if not self._base64:
                self._write_text(text)
                return False
            try:
                self._decode(text)
            except binascii.Error as exc:
                if self._encoding is not None:
                    raise
                self._not_base64 = str(exc)
                self._to_text(text)
        return self._base64

    def finish(self, encoding: str) -> SpooledFile:
        with self._client_errors():
            if self._base64 and encoding == "utf-8":
                self._to_text(b"")
            elif self._base64:
                padding = b"=" * (-len(self._pending) % 4)  # tolerate unpadded base64
                self._spool.write(binascii.a2b_base64(self._pending + padding, strict_mode=True))
            elif encoding == "base64":
                raise binascii.Error(self._not_base64)
            self._utf8.decode(b"", final=True)
        return self._spool.close()

    def discard(self) -> None:
        self._spool.discard()

    def _decode(self, text: bytes) -> None:
        data = self._pending + text if self._pending else text
        cut = len(data) - len(data) % 4
        if cut and data[cut - 1] == ord("="):
            cut -= 4  # padding must end the string: keep that quad until finish() proves it
        if cut:
            self._spool.write(binascii.a2b_base64(memoryview(data)[:cut], strict_mode=True))
        self._pending = data[cut:]

    def _write_text(self, text: bytes) -> None:
        self._utf8.decode(text)
        self._spool.write(text)

    def _to_text(self, text: bytes) -> None:
        decoded, self._spool = self._spool, self._spools.new()
        self._base64 = False
        for block in decoded.read_back(3 << 18):  # whole quads, so no padding mid-way
            self._write_text(binascii.b2a_base64(block, newline=False))
        self._write_text(self._pending + text)
        decoded.discard()

    @contextmanager
    def _client_errors(self) -> Iterator[None]:
        try:
            yield
        except binascii.Error as exc:
            raise self._fail(f"invalid base64 in 'content' ({exc})") from None
        except UnicodeDecodeError:
            raise self._fail("'content' is not valid UTF-8") from None


@dataclass
class _Fields:
    """The fields of one line's value, with typed getters that name the culprit."""

    fail: _Fail
    values: dict[str, _Value] = field(default_factory=dict)
    content: _ContentWriter | None = None

    def text(self, name: str) -> str:
        if name not in self.values:
            raise self.fail(f"missing '{name}'")
        value = self.values[name]
        if not isinstance(value, str):
            raise self.fail(f"'{name}' must be a string, not {_KINDS[type(value)]}")
        return value

    def optional_text(self, name: str) -> str | None:
        return None if self.values.get(name) is None else self.text(name)

    def size(self) -> int | None:
        value = self.values.get("size")
        if value is None or (type(value) is int and value >= 0):
            return value
        raise self.fail(f"'size' must be a non-negative integer, not {_KINDS[type(value)]}")

    def encoding(self) -> str | None:
        """'base64' or 'utf-8'; None while the field has not been read."""
        if "encoding" not in self.values:
            return None
        value = self.values["encoding"]
        name = "base64" if value is None else value.lower() if isinstance(value, str) else ""
        if name in ("base64", "utf-8", "utf8"):
            return "base64" if name == "base64" else "utf-8"
        raise self.fail(f"'encoding' must be 'base64' or 'utf-8', not {value!r}")


class _LineParser:
    """Reads one `{"key": ..., "value": {...}}` line into the header or an operation."""

    def __init__(self, reader: _Reader, spools: _Spools, *, first: bool) -> None:
        self._reader = reader
        self._spools = spools
        self._first = first
        self._key: str | None = None
        self._has_value = False
        self._fields = _Fields(reader.error)

    async def parse(self) -> CommitHeader | Operation:
        await self._reader.read_object(self._on_member, "a JSON object")
        if self._key is None or not self._has_value:
            raise self._reader.error(f"missing '{'value' if self._key else 'key'}'")
        content = self._fields.content
        if content is not None and self._key != "file":
            content.discard()  # 'value' came before 'key': the content was a stray field
        item = _BUILDERS[self._key](self._fields)
        await self._reader.end_line()
        return item

    async def _on_member(self, name: str) -> None:
        if name == "key":
            await self._read_key()
        elif name == "value":
            await self._read_fields()
        else:
            await self._reader.skip_value()

    async def _read_key(self) -> None:
        key = await self._reader.read_value("key")
        if self._key is not None:
            raise self._reader.error("duplicate 'key'")
        if not isinstance(key, str) or key not in _BUILDERS:
            raise self._reader.error(f"unknown 'key' {key!r}, expected one of {list(_BUILDERS)}")
        if self._first and key != "header":
            raise self._reader.error(f"the first line must be the commit header, not {key!r}")
        if key == "header" and not self._first:
            raise self._reader.error("the commit header must come once, on the first line")
        self._key = key

    async def _read_fields(self) -> None:
        if self._has_value:
            raise self._reader.error("duplicate 'value'")
        if await self._reader.peek() != ord("{"):
            raise self._reader.error("'value' must be an object")
        self._has_value = True
        await self._reader.read_object(self._on_field, "an object")

    async def _on_field(self, name: str) -> None:
        fields = self._fields
        if name in fields.values or (name == "content" and fields.content is not None):
            raise self._reader.error(f"duplicate '{name}'")
        if name == "content" and self._key in (None, "file"):
            fields.content = await self._read_content()
        elif name in _FIELDS:
            fields.values[name] = await self._reader.read_value(name)
        else:
            await self._reader.skip_value()

    async def _read_content(self) -> _ContentWriter:
        if await self._reader.peek() != _QUOTE:
            raise self._reader.error("'content' must be a string")
        encoding = self._fields.encoding()
        writer = _ContentWriter(self._spools, encoding, self._reader.error)
        await self._reader.read_string(writer.feed, "'content'")
        return writer


def _header(fields: _Fields) -> CommitHeader:
    return CommitHeader(
        summary=fields.text("summary"),
        description=fields.optional_text("description") or "",
        parent_commit=fields.optional_text("parentCommit"),
    )


def _file(fields: _Fields) -> AddFile | CopyFile:
    path = fields.text("path")
    old_path = fields.optional_text("oldPath")
    if old_path is not None:
        if fields.content is not None:
            raise fields.fail("give either 'content' or 'oldPath', not both")
        return CopyFile(src_path=old_path, path_in_repo=path)
    if fields.content is None:
        raise fields.fail("missing 'content'")
    return AddFile(path, fields.content.finish(fields.encoding() or "base64"))


def _lfs_file(fields: _Fields) -> AddLfsFile | CopyFile:
    path = fields.text("path")
    old_path = fields.optional_text("oldPath")
    if old_path is not None:
        return CopyFile(src_path=old_path, path_in_repo=path)
    if fields.optional_text("algo") not in (None, "sha256"):
        raise fields.fail("'algo' must be 'sha256'")
    oid = fields.text("oid")
    if not _SHA256_HEX.fullmatch(oid):
        raise fields.fail(f"'oid' must be a sha256 hex digest, not {oid[:80]!r}")
    return AddLfsFile(path, oid.lower(), fields.size())


_BUILDERS: dict[str, Callable[[_Fields], CommitHeader | Operation]] = {
    "header": _header,
    "file": _file,
    "lfsFile": _lfs_file,
    "deletedFile": lambda fields: DeleteFile(fields.text("path")),
    "deletedFolder": lambda fields: DeleteFolder(fields.text("path")),
}
