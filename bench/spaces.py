"""Spaces: cold start of a Gradio space (commit → RUNNING) with the SDK's wheels in the cache,
wake from sleep (first request → answer; baseline: the same app started straight from its venv,
outside any sandbox, to its first answer), and the proxy's cost on a small request (Gradio's
`/robots.txt` through the proxy against the same request sent straight to the app's socket).

The wheel cache is the one the tests share (~/.cache/hugbox-tests/uv-cache), warmed by a first
build that is not measured. Two cold starts are reported: a space whose requirements need a new
venv (built from cached wheels, bytecode compiled), and a space on the default SDK with no
requirements of its own, which reuses the environment an earlier build made.
"""

from __future__ import annotations

import statistics
import subprocess
import time
import uuid
from pathlib import Path

import httpx
from huggingface_hub import CommitOperationAdd, HfApi

from common import (
    BENCH_USER,
    Result,
    Workspace,
    free_port,
    log,
    percentile,
    running_hub,
    seed_user,
    stop_process,
    wait_ready,
)

UV_CACHE = Path.home() / ".cache" / "hugbox-tests" / "uv-cache"
APP = b"""import gradio as gr

gr.Interface(lambda s: "Hello " + s, "text", "text", api_name="greet").launch()
"""
TARGETS = {"cold": 15.0, "wake": 5.0, "overhead_ms": 2.0}
SAMPLES = 400


def _space(api: HfApi, files: dict[str, bytes]) -> tuple[str, float]:
    """A new space with `files`; seconds from the commit to RUNNING."""
    repo_id = f"{BENCH_USER}/space-{uuid.uuid4().hex[:8]}"
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio")
    started = time.monotonic()
    api.create_commit(repo_id, repo_type="space", commit_message="app",
                      operations=[CommitOperationAdd(p, d) for p, d in files.items()])  # fmt: skip
    return repo_id, _until(api, repo_id, "RUNNING", started)


def _until(api: HfApi, repo_id: str, stage: str, started: float, limit: float = 900) -> float:
    while (now := api.get_space_runtime(repo_id).stage) != stage:
        if str(now).endswith("ERROR") or time.monotonic() - started > limit:
            raise RuntimeError(f"{repo_id} is {now}: {''.join(api.fetch_space_logs(repo_id))}")
        time.sleep(0.05)
    return time.monotonic() - started


def _wake(api: HfApi, repo_id: str) -> float:
    api.set_space_sleep_time(repo_id, 1)
    _until(api, repo_id, "SLEEPING", time.monotonic(), limit=60)
    api.set_space_sleep_time(repo_id, 3600)
    host = api.space_info(repo_id).host
    started = time.monotonic()
    answer = httpx.get(f"{host}config", timeout=120)  # an API client: held until the app is up
    answer.raise_for_status()
    return time.monotonic() - started


def _pk(api: HfApi, repo_id: str) -> int:
    return int(httpx.get(f"{api.endpoint}/api/spaces/{repo_id}").json()["_id"].split("-")[1])


def _direct_start(data_dir: Path, pk: int) -> float:
    """Seconds from starting the app with its venv's python, unsandboxed, to its first answer."""
    venv = next(p for p in (data_dir / "spaces" / "venvs").iterdir() if "." not in p.name)
    app = next((data_dir / "spaces" / str(pk) / "builds").iterdir()) / "app" / "app.py"
    port = free_port()
    env = {"GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "PATH": "/usr/bin"}
    started = time.monotonic()
    process = subprocess.Popen([str(venv / "bin" / "python"), str(app)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}/", what="the app", process=process)
        return time.monotonic() - started
    finally:
        stop_process(process)


def _overhead(api: HfApi, repo_id: str, data_dir: Path) -> tuple[float, float]:
    """p50 ms of a tiny GET straight to the app's socket and through the proxy, interleaved."""
    socket = data_dir / "spaces" / str(_pk(api, repo_id)) / "run" / "app.sock"
    host = api.space_info(repo_id).host
    direct, proxied = [], []
    with (
        httpx.Client(transport=httpx.HTTPTransport(uds=str(socket)), base_url="http://app") as app,
        httpx.Client() as client,
    ):
        for _ in range(20):  # warm both paths
            app.get("/robots.txt").raise_for_status()
            client.get(f"{host}robots.txt").raise_for_status()
        for _ in range(SAMPLES):
            started = time.perf_counter()
            app.get("/robots.txt")
            direct.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            client.get(f"{host}robots.txt")
            proxied.append((time.perf_counter() - started) * 1000)
    log(f"spaces: /robots.txt p99 direct {percentile(direct, 99):.2f} ms, "
        f"proxied {percentile(proxied, 99):.2f} ms")  # fmt: skip
    return statistics.median(direct), statistics.median(proxied)


def run(ws: Workspace) -> list[Result]:
    data_dir = ws.root / "spaces-hub"
    data_dir.mkdir()
    token = seed_user(data_dir)
    with running_hub(data_dir, env={"HUGBOX_SPACES_UV_CACHE": str(UV_CACHE)}) as hub:
        api = HfApi(endpoint=hub.endpoint, token=token)
        _, warm = _space(api, {"app.py": APP})
        log(f"spaces: first build (fills the wheel cache if empty) {warm:.1f} s")
        nonce = f"# bench {uuid.uuid4().hex}\nsix\n".encode()  # a venv no build made yet
        _, fresh = _space(api, {"app.py": APP, "requirements.txt": nonce})
        reused_id, reused = _space(api, {"app.py": APP})
        log(f"spaces: cold start {fresh:.1f} s (new venv), {reused:.1f} s (same requirements)")
        wake = _wake(api, reused_id)
        direct, proxied = _overhead(api, reused_id, data_dir)
        unsandboxed = _direct_start(data_dir, _pk(api, reused_id))
    overhead = proxied - direct
    return [
        Result("spaces cold start, new venv", f"{fresh:.1f} s", target=f"<= {TARGETS['cold']} s",
               met=fresh <= TARGETS["cold"]),
        Result("spaces cold start, venv reused", f"{reused:.1f} s",
               target=f"<= {TARGETS['cold']} s", met=reused <= TARGETS["cold"]),
        Result("spaces wake from sleep", f"{wake:.1f} s", f"{unsandboxed:.1f} s app alone",
               ratio=wake / unsandboxed, target=f"<= {TARGETS['wake']} s",
               met=wake <= TARGETS["wake"]),
        Result("spaces proxy overhead p50", f"{proxied:.2f} ms", f"{direct:.2f} ms direct",
               ratio=proxied / direct, target=f"+{TARGETS['overhead_ms']} ms",
               met=overhead <= TARGETS["overhead_ms"],
               note=f"spaces: the proxy adds {overhead:.2f} ms at p50 to a 24-byte answer"),
    ]  # fmt: skip
