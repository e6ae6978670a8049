"""A small HTTP receiver for webhook tests: it records every POST it gets; a path under /fail2/
answers 500 to its first two POSTs, then 200."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    """Records every POST; a path under /fail2/ answers 500 to its first two POSTs."""

    url: str
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hook_url(self, kind: str = "ok") -> str:
        return f"{self.url}/{kind}/{uuid.uuid4().hex}"

    def at(self, url: str) -> list[Received]:
        path = httpx.URL(url).path
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait(self, url: str, match: Any, timeout: float = 20.0) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [r for r in self.at(url) if match(r.body)]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no matching delivery at {url}: {[r.body for r in self.at(url)]}")


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    calls: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.received.append(Received(self.path, dict(self.headers), body))
                calls[self.path] = calls.get(self.path, 0) + 1
                failing = self.path.startswith("/fail2/") and calls[self.path] <= 2
            self.send_response(500 if failing else 200)
            self.end_headers()
            self.wfile.write(b"boom" if failing else b"thanks")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
