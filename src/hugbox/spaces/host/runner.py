"""Starts and stops one space app in its sandbox, keeps its log, and bridges it to the hub."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx

from hugbox.spaces.host import bridge
from hugbox.spaces.host.sandbox import (
    HOME,
    Bind,
    Sandbox,
    SandboxLimits,
    children_of,
    command,
    is_root,
    make_cgroup,
    memory_file,
    processes_of,
    remove_cgroup,
)
from hugbox.spaces.proxy.upstream import Endpoint

logger = logging.getLogger(__name__)

APP_MOUNT = "/opt/app"
VENV_MOUNT = "/opt/venv"
RUN_MOUNT = "/run/hugbox"
BRIDGE_MOUNT = "/opt/hugbox/bridge.py"
MAX_LINE = 16 * 1024  # longer output lines (progress bars without newlines) are cut in pieces
_APP_ENV_DEFAULTS = {
    "HOME": HOME,
    "USER": "user",
    "PATH": f"{VENV_MOUNT}/bin:/usr/local/bin:/usr/bin:/bin",
    "VIRTUAL_ENV": VENV_MOUNT,
    "LANG": "C.UTF-8",
    "TMPDIR": "/tmp",  # noqa: S108 (the sandbox's own tmpfs)
    "PYTHONUNBUFFERED": "1",  # print() reaches the log as it happens, not at exit
}


@dataclass(frozen=True)
class Launch:
    space_id: str  # "owner/name", for logs
    uid: int  # outside uid when the hub is root
    app_dir: Path  # checkout at the built commit: read-only at /opt/app, copied to ~/app
    venv: Path  # read-only at /opt/venv
    command: list[str]  # argv inside, e.g. ["/opt/venv/bin/python", "app.py"]
    app_port: int  # the app listens on 127.0.0.1:app_port in its own network namespace
    env: dict[str, str]  # the app's environment; HOME, PATH... added only when missing
    run_dir: Path  # host dir for app.sock (host -> app) and hub.sock (app -> hub)
    hub_address: tuple[str, int]  # where hub.sock's connections go
    hub_port_inside: int  # 127.0.0.1:hub_port_inside inside forwards to hub.sock
    log_path: Path  # JSON lines {"timestamp", "data"}, appended
    secrets: tuple[str, ...]  # shown as *** in the log
    limits: SandboxLimits
    image: str | None = None  # a Docker space's own image (its command runs, not `command`)
    probe_path: str = "/"  # what answers once the app is up (a Kubernetes readiness probe)


class App(Protocol):
    """A started app, whatever runs it (bubblewrap here, a container engine in containers.py).
    Call stop() even after it exits by itself: that releases its bridge."""

    pod: str  # what runs it, for space_runs: a container's name, a sandbox's pid

    @property
    def socket(self) -> Endpoint:
        """Where the proxy reaches the app: its Unix socket, or its Service's address."""

    @property
    def returncode(self) -> int | None: ...

    @property
    def tail(self) -> list[str]: ...

    async def wait_ready(self, probe_path: str, timeout: float) -> None: ...  # noqa: ASYNC109

    async def wait(self) -> int: ...

    async def stop(self, grace: float = 5.0) -> None: ...


class Runner(Protocol):
    """Starts apps: `BubblewrapRunner` (the default), `containers.ContainerRunner` or
    `kube.KubeRunner`."""

    kind: str  # for space_runs

    async def start(self, launch: Launch) -> App: ...

    async def close(self) -> None: ...


class AppExited(Exception):
    """The app ended while we waited for it to answer."""

    def __init__(self, returncode: int, tail: Sequence[str]) -> None:
        super().__init__(f"the app exited with code {returncode} before it answered")
        self.returncode = returncode
        self.tail = list(tail)


class RunLog:
    """A JSON-lines log, one {"timestamp", "data"} per line, secrets masked, flushed per line."""

    def __init__(self, path: Path, secrets: Iterable[str] = (), keep: int = 100) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        # A multi-line secret (a PEM key) is printed line by line too.
        parts = {part for secret in secrets for part in (secret, *secret.splitlines())}
        self._secrets = sorted((part for part in parts if part.strip()), key=len, reverse=True)
        self.tail: deque[str] = deque(maxlen=keep)

    def write(self, line: str) -> None:
        for secret in self._secrets:
            line = line.replace(secret, "***")
        self.tail.append(line)
        if self._file.closed:
            return
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self._file.write(json.dumps({"timestamp": now, "data": line}) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


async def pump(stream: asyncio.StreamReader, log: RunLog) -> None:
    """Copy a process's output into the log line by line until every writer has gone."""
    pending = b""
    while chunk := await stream.read(1 << 16):
        *lines, pending = (pending + chunk).split(b"\n")
        while len(pending) > MAX_LINE:
            lines.append(pending[:MAX_LINE])
            pending = pending[MAX_LINE:]
        for line in lines:
            log.write(line.decode(errors="replace").rstrip("\r"))
    if pending:
        log.write(pending.decode(errors="replace").rstrip("\r"))


class _Init:
    """The sandbox's pid 1, held by a pidfd so that its pid cannot be reused under us. When it
    dies the kernel kills everything in its pid namespace: daemons, double forks, fork bombs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._fd = os.pidfd_open(pid)
        self._exited: asyncio.Future[None] | None = None

    def kill(self) -> None:
        if self._exited is not None and self._exited.done():
            return  # its pidfd is closed
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self._fd, signal.SIGKILL)

    def exited(self) -> asyncio.Future[None]:
        """Done once it has exited, which it does only after the rest of its namespace."""
        if self._exited is None:
            loop = asyncio.get_running_loop()
            self._exited = loop.create_future()
            loop.add_reader(self._fd, self._on_exit)
        return self._exited

    def _on_exit(self) -> None:
        asyncio.get_running_loop().remove_reader(self._fd)
        os.close(self._fd)
        assert self._exited is not None
        self._exited.set_result(None)


class SandboxProcess:
    """One program in a sandbox: bwrap's process, the sandbox's init, the pump of its output
    and its memory cgroup."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        log: RunLog,
        cgroup: Path | None,
        sweep_uid: int | None,
        status_fd: int,
    ) -> None:
        assert process.stdout is not None
        self._process = process
        self._pump = asyncio.create_task(pump(process.stdout, log))
        self._log = log
        self._cgroup = cgroup
        self._sweep_uid = sweep_uid
        # Open until bwrap exits: it writes its exit code there, and would die of SIGPIPE.
        self._status_fd = status_fd
        self._init = asyncio.create_task(asyncio.to_thread(_read_init, status_fd))
        self.pid = process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    @property
    def tail(self) -> list[str]:
        """The last lines of its output, secrets masked."""
        return list(self._log.tail)

    async def wait(self) -> int:
        """The exit code, once nothing of the sandbox runs and all its output is in the log."""
        code = await self._process.wait()
        init = await asyncio.shield(self._init)
        if self._status_fd >= 0:
            os.close(self._status_fd)
            self._status_fd = -1
        if init is not None:
            # bwrap reports the exit code before its init has finished tearing down.
            await asyncio.shield(init.exited())
        await asyncio.shield(self._pump)
        remove_cgroup(self._cgroup)
        return code

    async def stop(self, grace: float) -> None:
        """SIGTERM to the sandbox's program, SIGKILL to the whole sandbox after `grace`."""
        if self.returncode is None:
            await asyncio.wait({self._init}, timeout=max(grace, 1.0))
            self._signal_program(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self.wait()), grace)
            except TimeoutError:
                self._kill()
        await self.wait()
        if self._sweep_uid is not None:
            await _kill_uid(self._sweep_uid)

    def _known_init(self) -> _Init | None:
        return self._init.result() if self._init.done() else None

    def _signal_program(self, number: int) -> None:
        # The program is the init's child: the bridge, which passes the signal to the app's
        # process group.
        init = self._known_init()
        for pid in children_of(init.pid) if init else ():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, number)

    def _kill(self) -> None:
        init = self._known_init()
        if init is not None:
            init.kill()
        with contextlib.suppress(ProcessLookupError):
            self._process.kill()  # and bwrap's --die-with-parent takes the init along


async def _kill_uid(uid: int, deadline: float = 5.0) -> None:
    """Belt and braces after the namespace is gone: nothing may run as the space's uid."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while pids := processes_of(uid):
        if loop.time() > end:
            logger.error("processes %s of uid %d survive a stop", pids, uid)
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.05)


async def spawn(
    sandbox: Sandbox,
    argv: Sequence[str],
    log: RunLog,
    keep_fds: Sequence[int] = (),
    sweep_uid: int | None = None,
) -> SandboxProcess:
    """Start `argv` in `sandbox`, its output going to `log`. `sweep_uid`: a uid this sandbox
    owns alone, whose every process stop() kills."""
    limits = sandbox.limits
    # tmpfs pages are charged to the cgroup of whoever writes them: home, /tmp and /dev/shm.
    cgroup = make_cgroup(limits.memory_bytes + 2 * limits.disk_bytes)
    status_reader, status_writer = os.pipe()
    cmd = command(replace(sandbox, cgroup=cgroup), argv, keep_fds, status_writer)
    try:
        process = await asyncio.create_subprocess_exec(
            *cmd.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            pass_fds=cmd.pass_fds,
            env=cmd.env,
            cwd="/",
            start_new_session=True,  # the hub's terminal signals are not the space's
        )
    except BaseException:
        os.close(status_reader)
        remove_cgroup(cgroup)
        raise
    finally:
        cmd.close()
        os.close(status_writer)
    return SandboxProcess(process, log, cgroup, sweep_uid, status_reader)


def _read_init(fd: int) -> _Init | None:
    """bwrap's first status line names the sandbox's init; None if bwrap failed before."""
    status = b""
    while b"\n" not in status and len(status) < 4096 and (data := os.read(fd, 4096)):
        status += data
    try:
        return _Init(int(json.loads(status.split(b"\n")[0])["child-pid"]))
    except (ValueError, KeyError, TypeError, ProcessLookupError):
        return None


class HubBridge:
    """The host end of hub.sock: each connection from the space is piped to the hub's TCP."""

    def __init__(self, address: tuple[str, int]) -> None:
        self._address = address
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.AbstractServer | None = None

    async def open(self, path: Path, uid: int) -> None:
        self._server = await asyncio.start_unix_server(self._accept, path=str(path))
        hand_over(path, uid)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await bridge.splice(reader, writer, lambda: asyncio.open_connection(*self._address))
        finally:
            self._writers.discard(writer)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()


class RunningApp:
    """A started app. Call stop() even after it exits by itself: that releases the bridge."""

    def __init__(self, process: SandboxProcess, hub: HubBridge, run_dir: Path, log: RunLog) -> None:
        self._process = process
        self._hub = hub
        self._log = log
        self._run_dir = run_dir
        self._stopping = asyncio.Lock()
        self.socket = run_dir / "app.sock"
        self.pid = process.pid
        self.pod = f"pid {process.pid}"

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def wait_ready(self, probe_path: str, timeout: float) -> None:  # noqa: ASYNC109
        await wait_ready(self, probe_path, timeout)

    @property
    def tail(self) -> list[str]:
        """The last lines of the log, secrets masked."""
        return self._process.tail

    async def wait(self) -> int:
        code = await self._process.wait()
        self._log.close()
        return code

    async def stop(self, grace: float = 5.0) -> None:
        """End every process of the space, then close the hub bridge; safe to call twice."""
        async with self._stopping:
            await self._process.stop(grace)
            self._log.close()
            self._hub.close()
            for name in ("app.sock", "hub.sock"):
                (self._run_dir / name).unlink(missing_ok=True)


async def wait_ready(app: App, probe_path: str, timeout: float) -> None:  # noqa: ASYNC109
    """Poll GET probe_path until the app answers below 500; AppExited if it ends first,
    TimeoutError after `timeout` seconds (the supervisor's startup deadline)."""
    transport = httpx.AsyncHTTPTransport(uds=str(app.socket))
    async with asyncio.timeout(timeout), httpx.AsyncClient(transport=transport) as client:
        while True:
            if await _answers(app, client, probe_path):
                return
            await asyncio.sleep(0.1)


async def _answers(app: App, client: httpx.AsyncClient, probe_path: str) -> bool:
    if app.returncode is not None:
        raise AppExited(await app.wait(), app.tail)
    try:
        response = await client.get(f"http://space{probe_path}", timeout=10)
    except httpx.TransportError:
        return False
    return response.status_code < 500


class BubblewrapRunner:
    """The embedded default: each app under bubblewrap on this host."""

    kind = "bubblewrap"

    async def start(self, launch: Launch) -> App:
        return await start(launch)

    async def close(self) -> None:
        return None


async def start(launch: Launch) -> RunningApp:
    """Start the app in its sandbox; it answers on RunningApp.socket once wait_ready returns."""
    log = RunLog(launch.log_path, launch.secrets)
    hub = HubBridge(launch.hub_address)
    try:
        prepare_run_dir(launch.run_dir)
        await hub.open(launch.run_dir / "hub.sock", launch.uid)
        with _listen(launch.run_dir / "app.sock") as listener:  # the bridge inherits it
            process = await _spawn_bridge(launch, log, listener.fileno())
    except BaseException:
        hub.close()
        log.close()
        raise
    return RunningApp(process, hub, launch.run_dir, log)


async def _spawn_bridge(launch: Launch, log: RunLog, app_socket_fd: int) -> SandboxProcess:
    config = json.dumps(bridge_config(launch, app_socket_fd)).encode()
    config_fd = memory_file("launch.json", config)
    argv = [f"{VENV_MOUNT}/bin/python", "-I", "-S", BRIDGE_MOUNT, str(config_fd)]
    sweep = launch.uid if is_root() else None
    try:
        fds = (config_fd, app_socket_fd)
        return await spawn(_sandbox(launch), argv, log, keep_fds=fds, sweep_uid=sweep)
    finally:
        os.close(config_fd)


def _listen(path: Path) -> socket.socket:
    """app.sock, made here so that only the hub (root, or its own uid) may connect."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    path.chmod(0o600)
    listener.listen(128)
    return listener


def _sandbox(launch: Launch) -> Sandbox:
    binds = (
        Bind(launch.app_dir, APP_MOUNT),
        Bind(launch.venv, VENV_MOUNT),
        Bind(launch.run_dir, RUN_MOUNT),  # for hub.sock: connecting writes nothing
    )
    files = ((BRIDGE_MOUNT, Path(bridge.__file__).read_bytes()),)
    return Sandbox(uid=launch.uid, limits=launch.limits, binds=binds, files=files)


def bridge_config(launch: Launch, app_socket: int | str) -> dict[str, object]:
    """What bridge.py reads: `app_socket` is an inherited listening fd, or the path of the
    socket it makes itself (in a container)."""
    key = "app_socket_fd" if isinstance(app_socket, int) else "app_socket_path"
    return {
        key: app_socket,
        "command": launch.command,
        "env": {**_APP_ENV_DEFAULTS, **launch.env},
        "workdir": f"{HOME}/app",
        "copy_from": APP_MOUNT,
        "app_port": launch.app_port,
        "hub_port": launch.hub_port_inside,
        "hub_socket": f"{RUN_MOUNT}/hub.sock",
    }


def prepare_run_dir(run_dir: Path) -> None:
    """The hub's to write; the space may only pass through it (to reach hub.sock)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    run_dir.chmod(0o711)
    for name in ("app.sock", "hub.sock"):
        (run_dir / name).unlink(missing_ok=True)


def hand_over(path: Path, uid: int) -> None:
    """Only the space's uid (and root) may use it."""
    if is_root():
        os.chown(path, uid, uid)
    path.chmod(0o600)
