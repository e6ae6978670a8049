"""Real apps in real bubblewrap sandboxes: they answer through their socket, reach the hub only
through the bridge, and every escape attempt they make fails.

Each attempt is made by the app itself and reported back over HTTP, so a test fails as soon as
the protection it checks is taken away.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import random
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uv

from hugbox.spaces.host import runner, sandbox
from hugbox.spaces.host.sandbox import SandboxLimits

# Real builds, sandboxed processes and servers: about half a minute together, so `make test`
# runs them and `make test-fast` leaves them out.
pytestmark = pytest.mark.slow

MIB = 1 << 20
LIMITS = SandboxLimits(memory_bytes=256 * MIB, processes=48, open_files=256, disk_bytes=32 * MIB)
APP_PORT = 7860
HUB_PORT_INSIDE = 5005
SECRET = "hf_sandboxsecret123"
# Fresh uids for each run: the stop sweep kills every process of a space's uid.
BASE_UID = random.randrange(300_000, 400_000, 100)

# The app: plain stdlib, so the venv can stay empty. Each endpoint is one kind of attempt.
APP = r"""
import ctypes, errno, json, os, signal, socket, subprocess, sys, time, urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer


def attempt(action):
    try:
        return "ok: " + str(action())
    except BaseException as error:
        return type(error).__name__ + ": " + str(error)[:200]

def read(path):
    if os.path.isdir(path):
        return os.listdir(path)
    with open(path) as source:
        return source.read(100)

def connect(port, host="127.0.0.1"):
    with socket.create_connection((host, port), timeout=2):
        return "connected"

def fill_disk():
    written = 0
    try:
        with open("/home/user/fill", "wb") as sink:
            while True:
                sink.write(b"x" * (1 << 20))
                sink.flush()
                written += 1 << 20
    except OSError as error:
        return {"errno": errno.errorcode[error.errno], "written": written}
    finally:
        os.unlink("/home/user/fill")

# Bound from the host: nothing the app writes may land outside its tmpfs.
WRITABLE_LOOKING = ["/run/hugbox/junk", "/opt/app/junk", "/opt/venv/junk", "/usr/junk", "/junk",
                    "/etc/junk", "/dev/junk"]

def write(path):
    with open(path, "w") as sink:
        return sink.write("junk")

def processes():
    pids = [name for name in os.listdir("/proc") if name.isdigit()]
    lines = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as source:
                lines.append(source.read().replace(b"\0", b" ").decode())
        except OSError:
            pass
    return {"pids": pids, "cmdlines": lines}

def new_user_namespace():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return "made one"

def report():
    paths = json.loads(os.environ["HOST_PATHS"])
    return {
        "files": {path: attempt(lambda: read(path)) for path in paths},
        "processes": processes(),
        "uid": os.getuid(),
        "cwd": os.getcwd(),
        "home": os.listdir("/home/user"),
        "capabilities": [l for l in open("/proc/self/status") if l.startswith("CapEff")],
        "user_namespace": attempt(new_user_namespace),
        "writes": {path: attempt(lambda: write(path)) for path in WRITABLE_LOOKING},
        "connect": {
            "postgres": attempt(lambda: connect(5432)),
            "hub_directly": attempt(lambda: connect(int(os.environ["HUB_REAL_PORT"]))),
            "internet": attempt(lambda: connect(443, "1.1.1.1")),
        },
        "disk": fill_disk(),
        "memory": attempt(lambda: len(bytearray(2 * int(os.environ["MEMORY_BYTES"])))),
    }

def fork_bomb():
    count = 0
    for _ in range(1000):
        try:
            pid = os.fork()
        except OSError as error:
            return {"forks": count, "error": errno.errorcode[error.errno]}
        if pid == 0:
            time.sleep(600)
            os._exit(0)
        count += 1
    return {"forks": count, "error": None}

def stubborn_children():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)",
        os.environ["MARKER"]])
    daemon = ("import os, time\n"
              "if os.fork() == 0:\n"
              "    os.setsid()\n"
              "    if os.fork() == 0:\n"
              "        time.sleep(600)\n")
    subprocess.run([sys.executable, "-c", daemon, os.environ["MARKER"]])
    return "started"

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/stream":
            self.send_response(200)
            self.end_headers()
            for index in range(3):
                self.wfile.write(f"chunk {index}\n".encode())
                self.wfile.flush()
                time.sleep(0.4)
            return
        answers = {
            "/": lambda: "ok",
            "/report": lambda: json.dumps(report()),
            "/hub": lambda: urllib.request.urlopen(HUB + "/api/ping").read().decode(),
            "/bomb": lambda: json.dumps(BOMB),
        }
        body = answers[self.path]().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

HUB = os.environ["HF_ENDPOINT"]
print("app starting with", os.environ.get("SPACE_SECRET"), flush=True)
BOMB = fork_bomb() if os.environ.get("MODE") == "bomb" else None
if os.environ.get("MODE") == "stubborn":
    stubborn_children()
if os.environ.get("MODE") == "crash":
    print("something went wrong", flush=True)
    sys.exit(3)
HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


class FakeHub(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hub pong for {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class World:
    """What the host has that no space may see."""

    venv: Path
    hub_port: int
    data_dir: Path  # world-readable on purpose: only the sandbox's mounts hide it
    other_app: Path
    tmp: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    problem = sandbox.available()
    assert problem is None, problem
    tmp = tmp_path_factory.mktemp("sandbox")
    venv = tmp / "venv"
    subprocess.run([uv.find_uv_bin(), "venv", "-q", "--python", "/usr/bin/python3.11", str(venv)],
                   check=True)  # fmt: skip
    exposed = Path(tempfile.mkdtemp(prefix="hugbox-host-"))
    exposed.chmod(0o755)
    (exposed / "data").mkdir(mode=0o755)
    (exposed / "data" / "hugbox.db").write_text("SQLite format 3 -- the hub's tokens")
    (exposed / "other" / "app").mkdir(parents=True, mode=0o755)
    (exposed / "other" / "app" / "app.py").write_text("OTHER_SPACE_SECRET = 1\n")
    for path in (exposed / "other", exposed / "other" / "app"):
        path.chmod(0o755)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield World(
            venv, server.server_address[1], exposed / "data", exposed / "other" / "app", tmp
        )
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(exposed)


def _launch(world: World, name: str, uid: int, **env: str) -> runner.Launch:
    app_dir = world.tmp / name / "app"
    app_dir.mkdir(parents=True)
    (app_dir / "app.py").write_text(APP)
    host_paths = [
        str(world.data_dir / "hugbox.db"),
        str(world.data_dir),
        str(world.other_app / "app.py"),
        str(world.tmp / name / "run.log"),
        "/etc/shadow",
        "/root",
        "/work",
        str(Path(uv.find_uv_bin())),
    ]
    return runner.Launch(
        space_id=f"tests/{name}", uid=uid, app_dir=app_dir, venv=world.venv,
        command=["/opt/venv/bin/python", "app.py"], app_port=APP_PORT,
        env={"PORT": str(APP_PORT), "HF_ENDPOINT": f"http://127.0.0.1:{HUB_PORT_INSIDE}",
             "HUB_REAL_PORT": str(world.hub_port), "HOST_PATHS": json.dumps(host_paths),
             "MEMORY_BYTES": str(LIMITS.memory_bytes), "SPACE_SECRET": SECRET, **env},
        run_dir=world.tmp / name / "run", hub_address=("127.0.0.1", world.hub_port),
        hub_port_inside=HUB_PORT_INSIDE, log_path=world.tmp / name / "run.log",
        secrets=(SECRET,), limits=LIMITS,
    )  # fmt: skip


@asynccontextmanager
async def running(launch: runner.Launch) -> AsyncIterator[runner.RunningApp]:
    app = await runner.start(launch)
    try:
        await app.wait_ready("/", timeout=20)
        yield app
    finally:
        await app.stop(grace=1)


def _client(app: runner.RunningApp) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(uds=str(app.socket))
    return httpx.AsyncClient(transport=transport, base_url="http://space", timeout=30)


async def _get(app: runner.RunningApp, path: str) -> str:
    async with _client(app) as client:
        response = await client.get(path)
        response.raise_for_status()
        return response.text


def _report(world: World, name: str, uid: int) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with running(_launch(world, name, uid)) as app:
            report: dict[str, Any] = json.loads(await _get(app, "/report"))
            return report

    return asyncio.run(go())


@pytest.fixture(scope="module")
def report(world: World) -> dict[str, Any]:
    return _report(world, "escape", BASE_UID + 1)


def test_the_app_answers_through_its_socket_and_streams(world: World) -> None:
    async def go() -> list[float]:
        async with running(_launch(world, "stream", BASE_UID + 2)) as app:
            assert await _get(app, "/") == "ok"
            arrivals = []
            async with _client(app) as client, client.stream("GET", "/stream") as response:
                started = time.monotonic()
                async for _ in response.aiter_raw():
                    arrivals.append(time.monotonic() - started)
            return arrivals

    arrivals = asyncio.run(go())
    # Three chunks 0.4 s apart: the first must not wait for the last.
    assert len(arrivals) >= 2
    assert arrivals[-1] - arrivals[0] > 0.6


def test_the_hub_is_reachable_only_through_the_bridge(world: World, report: dict[str, Any]) -> None:
    async def go() -> str:
        async with running(_launch(world, "hub", BASE_UID + 3)) as app:
            return await _get(app, "/hub")

    assert asyncio.run(go()) == "hub pong for /api/ping"
    connect = report["connect"]
    assert connect["hub_directly"].startswith("ConnectionRefusedError"), connect
    assert connect["postgres"].startswith("ConnectionRefusedError"), connect
    assert connect["internet"].startswith("OSError: [Errno 101]"), connect  # no route at all


def test_host_files_are_not_there(report: dict[str, Any]) -> None:
    for path, outcome in report["files"].items():
        # Not a permission problem: the files are simply not in the sandbox's world.
        assert outcome.startswith("FileNotFoundError"), (path, outcome)


def test_the_app_runs_as_an_unprivileged_user_in_its_own_copy(report: dict[str, Any]) -> None:
    assert report["uid"] == 1000
    assert report["cwd"] == "/home/user/app"
    assert report["capabilities"] == ["CapEff:\t0000000000000000\n"]
    assert report["user_namespace"].startswith("OSError"), report["user_namespace"]


def test_nothing_outside_the_tmpfs_is_writable(report: dict[str, Any]) -> None:
    for path, outcome in report["writes"].items():
        assert outcome.startswith(("OSError: [Errno 30]", "PermissionError")), (path, outcome)


def test_only_the_sandbox_processes_are_visible(report: dict[str, Any]) -> None:
    processes = report["processes"]
    # bwrap's init, the bridge, the app; nothing of the host (this pytest included).
    assert len(processes["pids"]) <= 4, processes
    assert not any("pytest" in line for line in processes["cmdlines"]), processes


def test_disk_and_memory_are_bounded(report: dict[str, Any]) -> None:
    disk = report["disk"]
    assert disk["errno"] == "ENOSPC"
    assert 16 * MIB < disk["written"] <= LIMITS.disk_bytes
    assert report["memory"].startswith("MemoryError"), report["memory"]


def test_a_fork_bomb_stops_at_the_process_limit(world: World) -> None:
    async def go() -> tuple[dict[str, Any], str]:
        async with running(_launch(world, "bomb", BASE_UID + 4, MODE="bomb")) as bomb:
            outcome = json.loads(await _get(bomb, "/bomb"))
            host = await asyncio.create_subprocess_exec("true")
            assert await host.wait() == 0  # the host still starts processes
            async with running(_launch(world, "neighbour", BASE_UID + 5)) as neighbour:
                return outcome, await _get(neighbour, "/")

    started = time.monotonic()
    outcome, neighbour = asyncio.run(go())
    assert outcome["error"] == "EAGAIN", outcome
    assert outcome["forks"] < LIMITS.processes, outcome
    assert neighbour == "ok"
    assert time.monotonic() - started < 20
    if sandbox.is_root():
        assert sandbox.processes_of(BASE_UID + 4) == []


def test_stop_leaves_no_process_behind(world: World) -> None:
    marker = f"hugbox-test-{uuid.uuid4().hex}"
    uid = BASE_UID + 6

    async def go() -> float:
        launch = _launch(world, "stubborn", uid, MODE="stubborn", MARKER=marker)
        app = await runner.start(launch)
        await app.wait_ready("/", timeout=20)
        marked = _marked(marker)
        assert len(marked) == 2  # the SIGTERM-ignoring child and the daemon
        assert {_nice(pid) for pid in marked} == {LIMITS.nice}
        if sandbox.is_root():
            assert set(marked) <= set(sandbox.processes_of(uid))  # the space's own host uid
        started = time.monotonic()
        # The app ignores SIGTERM too: only the SIGKILL after the grace period ends it.
        await asyncio.wait_for(app.stop(grace=1), 10)
        await asyncio.wait_for(app.stop(grace=1), 10)  # a second stop is harmless
        return time.monotonic() - started

    assert 1 <= asyncio.run(go()) < 5
    assert _marked(marker) == []
    if sandbox.is_root():
        assert sandbox.processes_of(uid) == []


def _marked(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def _nice(pid: int) -> int:
    return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[16])


def test_secrets_are_masked_in_the_log(world: World, report: dict[str, Any]) -> None:
    text = (world.tmp / "escape" / "run.log").read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert {"timestamp", "data"} <= set(lines[0])
    assert "app starting with ***" in [line["data"] for line in lines]
    assert SECRET not in text


def test_an_app_that_exits_is_reported_with_its_last_lines(world: World) -> None:
    async def go() -> runner.AppExited:
        app = await runner.start(_launch(world, "crash", BASE_UID + 7, MODE="crash"))
        try:
            with pytest.raises(runner.AppExited) as raised:
                await app.wait_ready("/", timeout=20)
        finally:
            await app.stop()
        return raised.value

    exited = asyncio.run(go())
    assert exited.returncode == 3
    assert "something went wrong" in exited.tail
