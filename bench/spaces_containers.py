"""Spaces in containers against bubblewrap, in one run: cold start of a Gradio space whose venv
is already built (commit → RUNNING) and wake from sleep (first request → answer), each with
HUGBOX_SPACES_RUNNER=container (podman's Docker-compatible API, started here by PID) over the
same with the default bubblewrap runner. Targets: both ratios ≤ 1.2.

Needs podman + runc (apt) and the base image's tarball that `.ci/run` caches under
~/.cache/hugbox-tests (or a base image already in podman's store).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from huggingface_hub import HfApi

from common import Result, Workspace, log, running_hub, seed_user, stop_process
from spaces import APP, UV_CACHE, _space, _wake

BASE_ROOTFS = Path.home() / ".cache" / "hugbox-tests" / "debian-py-bookworm.tar"
PODMAN_CONF = """[containers]
netns = "none"
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
"""
TARGET = 1.2
ROUNDS = 3


@contextmanager
def _podman(scratch: Path) -> Iterator[str]:
    """podman system service with this VM's workarounds (spec/scale-out.md §5)."""
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "containers.conf").write_text(PODMAN_CONF)
    socket_path = scratch / "podman.sock"
    env = {**os.environ, "CONTAINERS_CONF": str(scratch / "containers.conf")}
    command = ["podman", "system", "service", "--time=0", f"unix://{socket_path}"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    try:
        while not socket_path.exists():
            time.sleep(0.05)
        yield f"unix://{socket_path}"
    finally:
        _until_no_containers(env)
        stop_process(process)


def _until_no_containers(env: dict[str, str], timeout: float = 30) -> None:
    """The spaces host removes its containers after `hugbox serve` is gone: wait for it."""
    deadline = time.monotonic() + timeout
    command = ["podman", "ps", "-aq", "--filter", "label=org.hugbox.hub"]
    while subprocess.run(command, env=env, capture_output=True, text=True).stdout.strip():
        if time.monotonic() > deadline:
            log("spaces: containers left behind after the hub stopped")
            return
        time.sleep(0.2)


def _base_image(data_dir: Path, host: str) -> None:
    command = [sys.executable, "-m", "hugbox", "spaces", "base-image", "--data-dir", str(data_dir)]
    if BASE_ROOTFS.exists():
        command += ["--rootfs", str(BASE_ROOTFS)]
    env = {**os.environ, "HUGBOX_CONTAINER_HOST": host}
    subprocess.run(command, env=env, check=True, capture_output=True)


def _measure(ws: Workspace, name: str, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Cold starts on a cached venv and wakes, ROUNDS of each, on a hub of its own."""
    data_dir = ws.root / f"spaces-{name}"
    data_dir.mkdir()
    token = seed_user(data_dir)
    with running_hub(data_dir, env={"HUGBOX_SPACES_UV_CACHE": str(UV_CACHE), **env}) as hub:
        api = HfApi(endpoint=hub.endpoint, token=token)
        _, warm = _space(api, {"app.py": APP})  # builds the venv every later space reuses
        log(f"spaces ({name}): first build {warm:.1f} s")
        colds, wakes = [], []
        for _ in range(ROUNDS):
            repo_id, cold = _space(api, {"app.py": APP})
            colds.append(cold)
            wakes.append(_wake(api, repo_id))
            api.pause_space(repo_id)  # one app at a time, as measured
        log(f"spaces ({name}): cold {colds}, wake {wakes}")
    return colds, wakes


def run(ws: Workspace) -> list[Result]:
    bubblewrap = _measure(ws, "bubblewrap", {})
    with _podman(ws.root / "podman") as host:
        _base_image(ws.root, host)
        env = {"HUGBOX_SPACES_RUNNER": "container", "HUGBOX_CONTAINER_HOST": host}
        container = _measure(ws, "container", env)
    results = []
    for label, index in (("cold start, venv cached", 0), ("wake from sleep", 1)):
        ours, theirs = statistics.median(container[index]), statistics.median(bubblewrap[index])
        results.append(Result(f"spaces in containers: {label}", f"{ours:.2f} s",
                              f"{theirs:.2f} s bubblewrap", ratio=ours / theirs,
                              target=f"<= {TARGET}x", met=ours / theirs <= TARGET))  # fmt: skip
    return results
