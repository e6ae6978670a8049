"""Webhooks: how soon a delivery starts after the commit that caused it (issue 19: p95 within
1 s), on the embedded hub (SQLite, its job worker polling every 0.5 s) and on PostgreSQL (the
worker woken by NOTIFY). A live hub and a local receiver; each commit is made through the HTTP
API at a random moment (so a poll's phase cannot line up with the commits) and waits for its
delivery before the next. Measured from the commit's response to the receiver's first byte, so
the figure leaves out the commit's own time (the baseline column) but not the hop back.

Run alone: .venv/bin/python bench/run.py --only webhooks [--quick]
"""

from __future__ import annotations

import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from common import (
    BENCH_USER,
    PYTHON,
    Result,
    Workspace,
    clean_env,
    log,
    percentile,
    running_hub,
)

SERVER_URL = os.environ.get(
    "HUGBOX_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TARGET_P95_S = 1.0
ENV = {"HUGBOX_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]'}


@contextmanager
def _receiver() -> Iterator[tuple[str, queue.Queue[float]]]:
    """A local receiver: yields its URL and a queue of each POST's arrival (perf_counter)."""
    arrivals: queue.Queue[float] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrivals.put(time.perf_counter())
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", arrivals
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _postgres_url() -> Iterator[str]:
    name = f"hooks_bench_{os.getpid()}"
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        yield make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _commit(client: httpx.Client, repo_id: str, n: int) -> None:
    header = {"key": "header", "value": {"summary": "bench"}}
    add = {"key": "file", "value": {"path": f"f{n}.txt", "content": "eA==", "encoding": "base64"}}
    lines = f"{json.dumps(header)}\n{json.dumps(add)}"
    response = client.post(
        f"/api/models/{repo_id}/commit/main", content=lines,
        headers={"content-type": "application/x-ndjson"},
    )  # fmt: skip
    response.raise_for_status()


def _seed(data_dir: Path, env: dict[str, str]) -> str:
    """The bench user on the hub's own database (`common.seed_user` knows only SQLite)."""

    def cli(*args: str) -> str:
        command = [PYTHON, "-m", "hugbox", *args, "--data-dir", str(data_dir)]
        done = subprocess.run(command, env=clean_env(env), capture_output=True, text=True,
                              timeout=600, check=True)  # fmt: skip
        return done.stdout

    cli("user", "create", BENCH_USER, "--password", "bench-password")
    return cli("token", "create", BENCH_USER).strip().splitlines()[-1]


def _latencies(
    data_dir: Path, samples: int, env: dict[str, str]
) -> tuple[list[float], list[float]]:
    """(commit response -> delivery start, commit round trip) for `samples` commits."""
    token = _seed(data_dir, env)
    with _receiver() as (url, arrivals), running_hub(data_dir, env={**ENV, **env}) as hub:
        client = httpx.Client(base_url=hub.endpoint, timeout=60,
                              headers={"authorization": f"Bearer {token}"})  # fmt: skip
        repo_id = f"{BENCH_USER}/hooked"
        hook = {"url": url, "watched": [{"type": "model", "name": repo_id}], "domains": ["repo"]}
        client.post("/api/settings/webhooks", json=hook).raise_for_status()
        client.post("/api/repos/create", json={"name": "hooked"}).raise_for_status()
        arrivals.get(timeout=30)  # the repo's creation, before the measured commits
        delays, commits = [], []
        for n in range(samples):
            time.sleep(random.uniform(0, 0.5))
            started = time.perf_counter()
            _commit(client, repo_id, n)
            done = time.perf_counter()
            delays.append(arrivals.get(timeout=30) - done)
            commits.append(done - started)
        client.close()
    return delays, commits


def _result(name: str, delays: list[float], commits: list[float]) -> Result:
    p95, p50, base = percentile(delays, 95), percentile(delays, 50), percentile(commits, 50)
    return Result(
        f"webhook delivery start after commit p95, {name}", f"{p95 * 1000:.0f} ms",
        f"commit round trip p50 {base * 1000:.0f} ms", p95 / base,
        f"<= {TARGET_P95_S * 1000:.0f} ms", p95 <= TARGET_P95_S,
        note=f"webhooks ({name}): {len(delays)} commits, delivery start p50 {p50 * 1000:.0f} ms, "
        f"max {max(delays) * 1000:.0f} ms",
    )  # fmt: skip


def run(ws: Workspace) -> list[Result]:
    samples = 20 if ws.quick else 60
    log(f"webhooks: {samples} commits on SQLite, then on PostgreSQL")
    results = [_result("SQLite", *_latencies(ws.root / "hooks-sqlite", samples, {}))]
    with _postgres_url() as url:
        pg = {"HUGBOX_DATABASE_URL": url}
        results.append(_result("PostgreSQL", *_latencies(ws.root / "hooks-pg", samples, pg)))
    return results


if __name__ == "__main__":
    print(*run(Workspace(Path(sys.argv[1]), Path(), 0, quick=True)), sep="\n")
