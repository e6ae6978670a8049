"""What blocking work the event loop may run itself, and how longer work asks to leave it.

The most frequent reads (`model_info`, each file's HEAD) are an indexed row or two and a few
git lookups: on SQLite, tens of microseconds of local file reads that WAL never makes wait,
less than handing them to a thread costs (`deps.run_read`). Work that can take longer (a cold
cache that walks a whole tree) raises `LeaveLoop` when it finds itself on the loop, and the
read is done again in a thread.
"""

from __future__ import annotations

import asyncio


class LeaveLoop(Exception):
    """Raised by work too long for the event loop, found running on it: run me in a thread."""


def on_event_loop() -> bool:
    """Whether this thread is running an event loop right now (a read thread is not)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def leave_loop() -> None:
    """Refuse to go on on the event loop: the caller's reads start again in a thread."""
    if on_event_loop():
        raise LeaveLoop()
