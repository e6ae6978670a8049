"""`model_info` and `HEAD /{repo}/resolve/main/{file}` (what `from_pretrained` sends per file)
under 32 concurrent clients: latency percentiles and req/s, against the same load on a trivial
route (`/api/agent-harnesses`), so each ratio is the cost of the real handler.

The load generator (threads, one `httpx.Client` each) runs in this process, on the same cores as
the server: its own CPU use is reported next to the server's.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from common import (
    BENCH_USER,
    Hub,
    Result,
    Workspace,
    cpu_seconds,
    hugbox_cli,
    log,
    percentile,
    remove_tree,
    running_hub,
    seed_user,
)

REPO_ID = f"{BENCH_USER}/tiny-model"
CLIENTS = 32
TARGET_P99_MS = 50.0
# The targets: each route's throughput as a share of the trivial route's, same run.
TARGET_INFO_RATIO = 0.6
TARGET_HEAD_RATIO = 0.7
TRIVIAL = ("GET", "/api/agent-harnesses")
MODEL_INFO = ("GET", f"/api/models/{REPO_ID}")
HEAD_CONFIG = ("HEAD", f"/{REPO_ID}/resolve/main/config.json")
HEAD_LFS = ("HEAD", f"/{REPO_ID}/resolve/main/model.safetensors")
CARD = """---
license: apache-2.0
library_name: transformers
pipeline_tag: text-classification
tags: [bench]
---
# tiny-model

A repo shaped like a small transformers model, for the model_info benchmark.
"""


def _write_repo(folder: Path) -> None:
    """Ten files, three of them LFS (by the default .gitattributes patterns)."""
    config = {"architectures": ["BertForSequenceClassification"], "model_type": "bert"}
    texts = {
        "README.md": CARD,
        "config.json": json.dumps(config),
        "generation_config.json": "{}",
        "tokenizer_config.json": json.dumps({"model_max_length": 512}),
        "special_tokens_map.json": json.dumps({"cls_token": "[CLS]"}),
        "tokenizer.json": json.dumps({"vocab": {f"tok{i}": i for i in range(20_000)}}),
        "vocab.txt": "\n".join(f"tok{i}" for i in range(20_000)),
    }
    folder.mkdir()
    for name, text in texts.items():
        (folder / name).write_text(text)
    for name, size in (("model.safetensors", 4), ("pytorch_model.bin", 4), ("onnx/model.onnx", 2)):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(os.urandom(size * 2**20))


@dataclass(frozen=True)
class Load:
    latencies: list[float]
    errors: int
    seconds: float
    server_cpu: float  # share of one core, over the measured window
    loadgen_cpu: float


@dataclass(frozen=True)
class Slice:
    """A stretch of the load on one route: warm-up until `warm_until`, measured until `stop_at`."""

    name: str
    method: str
    url: str
    warm_until: float
    stop_at: float


def _client_loop(
    headers: dict[str, str], plan: list[Slice], out: dict[str, list[float]],
    errors: dict[str, list[int]],
) -> None:  # fmt: skip
    """One client, its connection kept from one slice to the next."""
    with httpx.Client(headers=headers, timeout=30) as client:
        for part in plan:
            while (started := time.perf_counter()) < part.stop_at:
                try:
                    status = client.request(part.method, part.url).status_code
                except httpx.TransportError:
                    status = 0
                elapsed = time.perf_counter() - started
                if status != 200:
                    errors[part.name].append(status)
                elif started >= part.warm_until:
                    out[part.name].append(elapsed)


def _plan(
    hub: Hub, routes: dict[str, tuple[str, str]], warmup: float, duration: float, rounds: int
) -> list[Slice]:
    """Each route in `rounds` slices taken in turn, so other work on a shared machine weighs on
    every route alike and the ratios hold; the first slice warms up for `warmup`, later ones
    (whose clients are connected and going) for a tenth of it."""
    plan: list[Slice] = []
    at = time.perf_counter() + warmup * 0.9
    for _ in range(rounds):
        for name, (method, path) in routes.items():
            warm_until = at + warmup / 10
            at = warm_until + duration / rounds
            plan.append(Slice(name, method, hub.endpoint + path, warm_until, at))
    return plan


def _load(
    hub: Hub, routes: dict[str, tuple[str, str]], token: str, warmup: float, duration: float,
    rounds: int = 1,
) -> dict[str, Load]:  # fmt: skip
    """CLIENTS closed-loop clients on each route for `duration` seconds in all, after warm-up."""
    plan = _plan(hub, routes, warmup, duration, rounds)
    latencies: dict[str, list[float]] = {name: [] for name in routes}
    errors: dict[str, list[int]] = {name: [] for name in routes}
    args = ({"authorization": f"Bearer {token}"}, plan, latencies, errors)
    threads = [
        threading.Thread(target=_client_loop, args=args, daemon=True) for _ in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    server = dict.fromkeys(routes, 0.0)
    loadgen = dict.fromkeys(routes, 0.0)
    for part in plan:
        time.sleep(max(0.0, part.warm_until - time.perf_counter()))
        server_before, self_before = cpu_seconds(hub.pid, children=True), cpu_seconds(os.getpid())
        time.sleep(max(0.0, part.stop_at - time.perf_counter()))
        server[part.name] += cpu_seconds(hub.pid, children=True) - server_before
        loadgen[part.name] += cpu_seconds(os.getpid()) - self_before
    for thread in threads:
        thread.join(timeout=60)
    return {
        name: Load(latencies[name], len(errors[name]), duration, server[name] / duration,
                   loadgen[name] / duration)
        for name in routes
    }  # fmt: skip


ROUTES = {
    "trivial": TRIVIAL,
    "model_info": MODEL_INFO,
    "head_config": HEAD_CONFIG,
    "head_lfs": HEAD_LFS,
}


def _describe(load: Load) -> str:
    ms = [percentile(load.latencies, p) * 1000 for p in (50, 95, 99)]
    return (
        f"p50 {ms[0]:.1f} / p95 {ms[1]:.1f} / p99 {ms[2]:.1f} ms, "
        f"{len(load.latencies) / load.seconds:.0f} req/s"
    )


def _note(name: str, load: Load) -> str:
    return (
        f"{name}: {_describe(load)}, {load.errors} errors; CPU: server {load.server_cpu:.0%}, "
        f"load generator {load.loadgen_cpu:.0%} of one core (both share the machine's cores)"
    )


def _rate(load: Load) -> float:
    return len(load.latencies) / load.seconds


def _throughput(name: str, load: Load, trivial: Load, target: float) -> Result:
    ratio = _rate(load) / _rate(trivial)
    return Result(
        f"{name} x{CLIENTS} clients, throughput", f"{_rate(load):.0f} req/s",
        f"trivial route {_rate(trivial):.0f} req/s", ratio, f">= {target:.1f}x",
        ratio >= target and load.errors == 0, note=_note(name, load),
    )  # fmt: skip


def _results(loads: dict[str, Load]) -> list[Result]:
    real, trivial = loads["model_info"], loads["trivial"]
    p99 = percentile(real.latencies, 99) * 1000
    base_p99 = percentile(trivial.latencies, 99) * 1000
    return [
        Result(f"model_info x{CLIENTS} clients, p99", f"{p99:.1f} ms",
               f"trivial route {base_p99:.1f} ms", p99 / base_p99,
               f"<= {TARGET_P99_MS:.0f} ms", p99 <= TARGET_P99_MS and real.errors == 0,
               note=_note("trivial route /api/agent-harnesses", trivial)),
        _throughput("model_info", real, trivial, TARGET_INFO_RATIO),
        _throughput("HEAD resolve config.json", loads["head_config"], trivial, TARGET_HEAD_RATIO),
        _throughput("HEAD resolve LFS file", loads["head_lfs"], trivial, TARGET_HEAD_RATIO),
    ]  # fmt: skip


def run(ws: Workspace) -> list[Result]:
    warmup, duration = (1.0, 3.0) if ws.quick else (2.0, 10.0)
    data_dir = ws.root / "model-info-hub"
    data_dir.mkdir()
    try:
        token = seed_user(data_dir)
        _write_repo(ws.root / "tiny-model")
        hugbox_cli(data_dir, "import", str(ws.root / "tiny-model"), REPO_ID)
        with running_hub(data_dir) as hub:
            loads = _load(hub, ROUTES, token, warmup, duration, rounds=3 if ws.quick else 5)
            for name, load in loads.items():
                log(f"  {_note(name, load)}")
        # A deployment runs about one worker per core; show what a second one buys here.
        with running_hub(data_dir, workers=2) as hub:
            two = _load(hub, {"model_info": MODEL_INFO}, token, warmup, duration)["model_info"]
            log(f"  {_note('model_info, 2 workers', two)}")
    finally:
        remove_tree(data_dir)
        remove_tree(ws.root / "tiny-model")
    return [*_results(loads), _two_workers(two)]


def _two_workers(load: Load) -> Result:
    p99 = percentile(load.latencies, 99) * 1000
    return Result(
        f"model_info x{CLIENTS} clients, 2 workers, p99", f"{p99:.1f} ms", "", None,
        f"<= {TARGET_P99_MS:.0f} ms", p99 <= TARGET_P99_MS and load.errors == 0,
        note=_note("model_info, 2 workers", load),
    )  # fmt: skip
