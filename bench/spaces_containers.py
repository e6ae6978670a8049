"""Spaces in containers against bubblewrap, in one run: cold start of a Gradio space whose venv
is already built (commit → RUNNING) and wake from sleep (first request → answer), each with
HUGBOX_SPACES_RUNNER=container (podman's Docker-compatible API, started here by PID) over the
same with the default bubblewrap runner (two hubs up at once, samples interleaved, medians of
five). Targets: both ratios ≤ 1.2.

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
ROUNDS = 5


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


@contextmanager
def _hub(ws: Workspace, name: str, env: dict[str, str]) -> Iterator[HfApi]:
    """A hub of its own for one runner, its venv built by a first (unmeasured) space."""
    data_dir = ws.root / f"spaces-{name}"
    data_dir.mkdir()
    token = seed_user(data_dir)
    with running_hub(data_dir, env={"HUGBOX_SPACES_UV_CACHE": str(UV_CACHE), **env}) as hub:
        api = HfApi(endpoint=hub.endpoint, token=token)
        _, warm = _space(api, {"app.py": APP})  # builds the venv every later space reuses
        log(f"spaces ({name}): first build {warm:.1f} s")
        yield api


def _sample(api: HfApi) -> tuple[float, float]:
    """A cold start on the cached venv, then a wake of the same space."""
    repo_id, cold = _space(api, {"app.py": APP})
    wake = _wake(api, repo_id)
    api.pause_space(repo_id)  # one app at a time, as measured
    return cold, wake


def run(ws: Workspace) -> list[Result]:
    """Both hubs up at once and their samples interleaved, so that the load of whatever else
    runs on the machine falls on both alike."""
    samples: dict[str, list[tuple[float, float]]] = {"bubblewrap": [], "container": []}
    with _podman(ws.root / "podman") as host:
        _base_image(ws.root, host)
        env = {"HUGBOX_SPACES_RUNNER": "container", "HUGBOX_CONTAINER_HOST": host}
        with _hub(ws, "bubblewrap", {}) as bubblewrap, _hub(ws, "container", env) as container:
            for _ in range(ROUNDS):
                samples["bubblewrap"].append(_sample(bubblewrap))
                samples["container"].append(_sample(container))
    log(f"spaces in containers: (cold, wake) samples {samples}")
    results = []
    for label, index in (("cold start, venv cached", 0), ("wake from sleep", 1)):
        ours = statistics.median(s[index] for s in samples["container"])
        theirs = statistics.median(s[index] for s in samples["bubblewrap"])
        results.append(Result(f"spaces in containers: {label}", f"{ours:.2f} s",
                              f"{theirs:.2f} s bubblewrap", ratio=ours / theirs,
                              target=f"<= {TARGET}x", met=ours / theirs <= TARGET))  # fmt: skip
    return results
