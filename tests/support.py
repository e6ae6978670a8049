"""Helpers the test suites share: names, the operator CLI, and running a live hub."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from testdb import data_dir_env


@contextmanager
def cheap_password_hashing() -> Iterator[None]:
    """argon2 at its lowest cost for tests that create users in process: still the real hasher,
    at 0.1 ms a password instead of 150 ms (400 ms on a busy 2-core machine). The cost is a
    setting of the hasher, which no test checks."""
    from argon2 import PasswordHasher

    with pytest.MonkeyPatch.context() as patch:
        cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        patch.setattr("hugbox.auth.service._hasher", cheap)
        yield


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique(prefix: str = "repo") -> str:
    """A repo name no other test uses: tests share one hub."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def run_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hugbox", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, **data_dir_env(data_dir)},
    )


def add_legacy_alias(data_dir: Path, repo_id: str, alias: str) -> None:
    """Make `alias` a legacy id (as `gpt2` is) of the model repo `repo_id`, as an operator would;
    a running hub learns of it within seconds."""
    from hugbox.cli.context import operator
    from hugbox.repos import service
    from hugbox.repos.models import Repo, RepoType

    with pytest.MonkeyPatch.context() as patch:
        for name, value in data_dir_env(data_dir).items():
            patch.setenv(name, value)
        op = operator(data_dir)
    try:
        with op.database.session() as session:
            repo = service.find_repo(session, RepoType.MODEL, repo_id)
            assert isinstance(repo, Repo)
            service.add_alias(session, repo=repo, alias=alias)
    finally:
        op.close()


def create_token(data_dir: Path, user: str, role: str) -> str:
    result = run_cli(data_dir, "token", "create", user, "--role", role)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@dataclass(frozen=True)
class Hub:
    endpoint: str
    data_dir: Path
    alice: str  # write token of user alice, admin of org `acme`
    alice_read: str  # read token of alice
    bob: str  # write token of bob, a `read` member of `acme`
    carol: str  # write token of carol, a `write` member of `acme`

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(self.data_dir, *args)


def _wait_ready(process: subprocess.Popen[bytes], endpoint: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hugbox serve exited with {process.returncode}")
        try:
            httpx.get(f"{endpoint}/api/agent-harnesses", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("hugbox serve did not start within 60 s")


@contextmanager
def running_hub(
    data_dir: Path,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    log_level: str = "warning",
    workers: int = 1,
) -> Iterator[str]:
    """`hugbox serve` on a local port for the duration of the block; yields its endpoint."""
    port = port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = log_path or data_dir / f"server-{port}.log"
    command = [sys.executable, "-m", "hugbox", "serve", "--port", str(port),
               "--log-level", log_level, "--data-dir", str(data_dir),
               "--workers", str(workers), "--spaces-port", str(free_port())]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **data_dir_env(data_dir), **(env or {})},
        )
        try:
            _wait_ready(process, endpoint)
            yield endpoint
        finally:
            process.terminate()
            process.wait(timeout=30)


PODMAN_CONF = """[containers]
netns = "none"
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
"""
BASE_ROOTFS = Path.home() / ".cache" / "hugbox-tests" / "debian-py-bookworm.tar"


@contextmanager
def podman_service(scratch: Path) -> Iterator[str]:
    """podman's Docker-compatible API on a Unix socket, with the three workarounds this VM needs
    (spec/scale-out.md §5) in a scratch CONTAINERS_CONF; stopped by its PID. Yields its host."""
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "containers.conf").write_text(PODMAN_CONF)
    socket_path = scratch / "podman.sock"
    env = {**os.environ, "CONTAINERS_CONF": str(scratch / "containers.conf")}
    command = ["podman", "system", "service", "--time=0", f"unix://{socket_path}"]
    with (scratch / "service.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while not socket_path.exists() and process.poll() is None:
            assert time.monotonic() < deadline, "podman system service did not start"
            time.sleep(0.05)
        yield f"unix://{socket_path}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def base_image(data_dir: Path, host: str) -> None:
    """The spaces base image, imported once from the debootstrapped tree `.ci/run` caches."""
    if not BASE_ROOTFS.exists():
        raise RuntimeError(f"{BASE_ROOTFS} is missing: .ci/run builds it (debootstrap)")
    command = [sys.executable, "-m", "hugbox", "spaces", "base-image", "--rootfs",
               str(BASE_ROOTFS), "--data-dir", str(data_dir)]  # fmt: skip
    env = {**os.environ, "HUGBOX_CONTAINER_HOST": host}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
