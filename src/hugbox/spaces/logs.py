"""Build and run logs as Server-Sent Events, the way `fetch_space_logs` reads them: one
`data: {"data": line, "timestamp": iso}` event per line, replayed, then followed while the log
can still grow, with an empty `data:` keep-alive now and then."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson

POLL_S = 0.25
LIVE_CHECK_S = 1.0
# Longer than the 5 s huggingface_hub waits when it does not follow: a keep-alive must not
# keep a non-following reader waiting.
KEEP_ALIVE_S = 20.0


def _event(line: bytes) -> dict[str, str]:
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {"data": line.decode("utf-8", "replace"), "timestamp": ""}
    return event if isinstance(event, dict) else {"data": str(event), "timestamp": ""}


async def sse(path: Path, *, tail: int | None, live: Callable[[], bool]) -> AsyncIterator[bytes]:
    """Replay the log, then follow it for as long as `live()` (checked in a thread) says."""
    offset, replay = await asyncio.to_thread(_replay, path, tail)
    for event in replay:
        yield _frame(event)
    last_sent = last_check = time.monotonic()
    alive = await asyncio.to_thread(live)
    while alive:
        await asyncio.sleep(POLL_S)
        offset, lines = _new_lines(path, offset)
        for line in lines:
            yield _frame(_event(line))
            last_sent = time.monotonic()
        now = time.monotonic()
        if now - last_sent > KEEP_ALIVE_S:
            yield b"data:\n\n"
            last_sent = now
        if now - last_check > LIVE_CHECK_S:
            alive, last_check = await asyncio.to_thread(live), now
    offset, lines = _new_lines(path, offset)  # what arrived while it ended
    for line in lines:
        yield _frame(_event(line))


def _replay(path: Path, tail: int | None) -> tuple[int, list[dict[str, str]]]:
    """The events so far, and where the next ones will start."""
    offset, lines = _new_lines(path, 0)
    kept = lines[max(0, len(lines) - tail) :] if tail is not None else lines
    return offset, [_event(line) for line in kept]


def _new_lines(path: Path, offset: int) -> tuple[int, list[bytes]]:
    """Whole lines written after `offset`; a log started again (shorter) is read from 0."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0, []
    if size < offset:
        offset = 0
    if size == offset:
        return offset, []
    with path.open("rb") as file:
        file.seek(offset)
        chunk = file.read(size - offset)
    end = chunk.rfind(b"\n") + 1
    return offset + end, [line for line in chunk[:end].split(b"\n") if line.strip()]


def _frame(event: dict[str, str]) -> bytes:
    return b"data: " + orjson.dumps(event) + b"\n\n"
