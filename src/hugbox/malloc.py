"""glibc's allocator, tuned for a server that streams large bodies through small buffers.

By default glibc gives freed memory back to the kernel as soon as 128 KiB lie free at the top
of a heap, and serves every allocation from 128 KiB up with a fresh mmap. A server decoding one
~64 KiB chunk after another (Xet xorbs, LFS bodies, uvicorn's receive buffers) then pays page
faults for each buffer again: measured on a 2-core VM, LZ4 decompression of a xorb's chunks ran
3x and its whole verification 2x slower than with the settings below. Keeping up to
TRIM_THRESHOLD free per arena is the price; at most ARENA_MAX arenas (instead of 8 per core)
bound it.
"""

from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -2, -3, -8  # <malloc.h>
TRIM_THRESHOLD = 64 * 1024 * 1024
TOP_PAD = 16 * 1024 * 1024
MMAP_THRESHOLD = 8 * 1024 * 1024
ARENA_MAX = 4


def tune() -> None:
    """Apply the settings to this process (a no-op where the C library is not glibc)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    for option, value in (
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (M_TOP_PAD, TOP_PAD),
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        (M_ARENA_MAX, ARENA_MAX),
    ):
        mallopt(option, value)
