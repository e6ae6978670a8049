"""Shared fixtures: a fresh data dir with users and tokens, and a live hub on a local port.

The client libraries read HF_ENDPOINT and HF_HOME once, when first imported, so they are set
here, before any test module imports huggingface_hub.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PORT = _free_port()
ENDPOINT = f"http://127.0.0.1:{PORT}"
_HF_HOME = tempfile.mkdtemp(prefix="hugbox-hf-home-")
os.environ.update(
    HF_ENDPOINT=ENDPOINT,
    HF_HOME=_HF_HOME,
    HF_HUB_DISABLE_TELEMETRY="1",
    HF_HUB_DISABLE_UPDATE_CHECK="1",
    HF_HUB_DISABLE_PROGRESS_BARS="1",
    HF_HUB_ETAG_TIMEOUT="30",
    HF_HUB_DOWNLOAD_TIMEOUT="60",
    TOKENIZERS_PARALLELISM="false",
)
os.environ.pop("HF_TOKEN", None)


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
    )


def _token(data_dir: Path, user: str, role: str) -> str:
    result = run_cli(data_dir, "token", "create", user, "--role", role)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def _seed(data_dir: Path) -> dict[str, str]:
    for user in ("alice", "bob", "carol"):
        assert run_cli(data_dir, "user", "create", user, "--password", "pw-" + user).returncode == 0
    assert run_cli(data_dir, "org", "create", "acme", "--owner", "alice").returncode == 0
    assert run_cli(data_dir, "org", "add-member", "acme", "bob", "--role", "read").returncode == 0
    assert (
        run_cli(data_dir, "org", "add-member", "acme", "carol", "--role", "write").returncode == 0
    )
    return {
        "alice": _token(data_dir, "alice", "write"),
        "alice_read": _token(data_dir, "alice", "read"),
        "bob": _token(data_dir, "bob", "write"),
        "carol": _token(data_dir, "carol", "write"),
    }


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


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    data_dir = tmp_path_factory.mktemp("hub-data")
    tokens = _seed(data_dir)
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "hugbox", "serve", "--port", str(PORT), "--log-level", "warning",
         "--data-dir", str(data_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_ready(process, ENDPOINT)
        yield Hub(endpoint=ENDPOINT, data_dir=data_dir, **tokens)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
