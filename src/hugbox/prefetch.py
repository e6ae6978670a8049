"""Reading ahead on a thread: one iterator's items fetched while the consumer works."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any


class Prefetch:
    """The items of `source`, read up to `depth` ahead by a thread of its own, so that reading
    overlaps what the consumer does with them (a dataset's parsing and the parquet writing; an
    upload's read-back from the bucket and its hashing). Errors reach the consumer; `close`
    stops the thread, whether or not everything was read."""

    def __init__(self, source: Iterable[Any], depth: int = 8):
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(source,), daemon=True)
        self._thread.start()

    def _read(self, source: Iterable[Any]) -> None:
        try:
            for item in source:
                if not self._put(("item", item)):
                    break
            self._put(("end", None))
        except BaseException as exc:  # handed to the reader, which raises it
            self._put(("error", exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    def _put(self, message: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Any]:
        while True:
            kind, value = self._queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
