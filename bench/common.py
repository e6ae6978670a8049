"""What every benchmark needs: a live hub in a temp dir, an RSS sampler, client runs, results."""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

PYTHON = sys.executable
MIB = 1024 * 1024
MB = 1_000_000
BENCH_USER = "bench"
# What the HF clients read; no token in the environment, every call passes its own.
CLIENT_ENV = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "HF_HUB_ETAG_TIMEOUT": "30",
    "HF_HUB_DOWNLOAD_TIMEOUT": "60",
}


@dataclass(frozen=True)
class Result:
    """One row of the summary table; `met` is None for lines reported without a target."""

    name: str
    measured: str
    baseline: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""  # printed under the table


@dataclass(frozen=True)
class Workspace:
    """The run's temp dir and the large random file the transfer benchmarks move around."""

    root: Path
    payload: Path
    size: int
    quick: bool


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries the summary table."""
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_payload(path: Path, size: int) -> None:
    """Random bytes, so nothing on the way can compress or deduplicate them."""
    block = 8 * MIB
    with path.open("wb") as handle:
        for start in range(0, size, block):
            handle.write(os.urandom(min(block, size - start)))


def mib_per_s(size: int, seconds: float) -> float:
    return size / MIB / seconds


def fmt_mb(value: int) -> str:
    return f"{value / MB:.0f} MB"


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGBOX_"))}
    return {**env, **CLIENT_ENV, **extra}


def run_python(code: str, args: list[str], env: Mapping[str, str], timeout: float) -> dict:
    """Run a client script in a fresh interpreter; it prints one JSON object last."""
    done = subprocess.run(
        [PYTHON, "-c", code, *args],
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"client failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def percentile(samples: list[float], pct: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]


def hugbox_cli(data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [PYTHON, "-m", "hugbox", *args, "--data-dir", str(data_dir)],
        env=clean_env({}),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"hugbox {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def seed_user(data_dir: Path) -> str:
    """Create the bench user in a fresh data dir; returns a write token."""
    hugbox_cli(data_dir, "user", "create", BENCH_USER, "--password", "bench-password")
    return hugbox_cli(data_dir, "token", "create", BENCH_USER).strip().splitlines()[-1]


@dataclass(frozen=True)
class Hub:
    endpoint: str
    data_dir: Path
    pid: int


def wait_ready(
    url: str, *, what: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 60
) -> None:
    """Until `url` answers 200 (`process`, when given, must not exit meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with httpx.stream("GET", url, timeout=1) as response:  # the status, not the body
                if response.status_code == 200:
                    return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} within {timeout:.0f} s")


def ensure_debian_package(binary: Path, package: str) -> Path:
    """`binary`, installing its Debian package on first use when missing."""
    if binary.exists():
        return binary
    log(f"{binary.name} is missing: apt-get install -y {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", package]):
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, timeout=600)
    return binary


@contextmanager
def running_hub(
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    log_level: str = "warning",
) -> Iterator[Hub]:
    """`hugbox serve` on a free loopback port, stopped (and waited for) on the way out."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with (data_dir / "server.log").open("wb") as server_log:
        process = subprocess.Popen(
            [PYTHON, "-m", "hugbox", "serve", "--port", str(port), "--log-level", log_level,
             "--data-dir", str(data_dir), "--workers", str(workers),
             "--spaces-port", str(free_port())],
            env=clean_env(env or {}), stdout=server_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_ready(f"{endpoint}/health", what="hugbox serve", process=process)
            yield Hub(endpoint, data_dir, process.pid)
        finally:
            stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def rss_bytes(pid: int) -> int:
    """VmRSS of a live process, 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU time of a process, and of its live children (uvicorn's workers)."""
    pids = [pid]
    for entry in Path("/proc").iterdir() if children else ():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    pids.append(int(entry.name))
            except (OSError, IndexError):
                continue  # the process ended while we looked
    ticks = 0
    for each in pids:
        try:
            fields = _stat(each)
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Peak RSS of one process, sampled at ~20 Hz in a background thread while in the block."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        self.peak = max(self.peak, rss_bytes(self.pid))

    def _run(self) -> None:
        self._sample()
        while not self._stop.wait(self.interval):
            self._sample()
        self._sample()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
