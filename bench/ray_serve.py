"""The Inference API on a Ray Serve fleet against the embedded executor, in the same run, on the
same cores: all-MiniLM-L6-v2 embeddings through one hub, first with `ProcessExecutor` (a model
worker process), then with `RayServeExecutor` (a local Ray cluster, one replica).

1. added latency: for one small embedding request at a time, the median time around the forward
   pass (request time minus the worker's own time on it) on Ray minus on the process executor:
   Serve's proxy and the replica's hop (target <= 6 ms);
2. throughput: 32 closed-loop clients on one model, Ray over the process executor (target
   >= 0.9x).

The Ray head, Serve's controller and proxy, the replica, the hub and the load generator share
this machine's cores; each load reports the CPU the hub, this process and the others used.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common import (
    Result,
    Workspace,
    free_port,
    hugbox_cli,
    log,
    remove_tree,
    running_hub,
    seed_user,
)
from inference import (
    MINILM_ID,
    Latency,
    Load,
    embed_load,
    http_latency,
    minilm_folder,
    sentences,
)
from inference import _plan as plan_for

TARGET_ADDED_MS, TARGET_THROUGHPUT = 6.0, 0.9


@contextmanager
def ray_fleet(data_dir: Path, serve_url: str) -> Iterator[dict[str, str]]:
    """A local Ray cluster (2 CPUs, the replica asks for none) with the hugbox application
    deployed; yields the hub's environment for it."""
    import ray
    from ray import serve

    from hugbox.inference.worker import ray_app
    from hugbox.settings import Settings
    from hugbox.signing import load_secret

    env = {
        "HUGBOX_INFERENCE_BACKEND": "ray",
        "HUGBOX_RAY_SERVE_URL": serve_url,
        "HUGBOX_RAY_REPLICA_CPUS": "0",
    }
    temp = Path(tempfile.mkdtemp(prefix="hbray-bench-", dir="/tmp"))
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(temp), logging_level="warning",
             log_to_driver=False)  # fmt: skip
    try:
        settings = Settings(data_dir=data_dir, ray_serve_url=serve_url, ray_replica_cpus=0)
        ray_app.deploy(settings, load_secret("", data_dir))
        yield env
    finally:
        serve.shutdown()
        ray.shutdown()
        remove_tree(temp)


def _measure(data_dir: Path, env: dict[str, str], token: str, texts: list[str], quick: bool
             ) -> tuple[Latency, Load]:  # fmt: skip
    plan = plan_for(quick)
    with running_hub(data_dir, env) as hub:
        url = f"{hub.endpoint}/models/{MINILM_ID}"
        latency = http_latency(url, token, texts[0], plan.latency_calls, hub.pid)
        load = embed_load(url, token, texts, hub.pid, plan)
    return latency, load


def run(ws: Workspace) -> list[Result]:
    work = ws.root / "ray"
    try:
        data_dir = work / "hub"
        data_dir.mkdir(parents=True)
        token = seed_user(data_dir)
        hugbox_cli(data_dir, "import", str(minilm_folder(work)), MINILM_ID)
        texts = sentences(1024, 1)
        log("ray: the process executor")
        process = _measure(data_dir, {}, token, texts, ws.quick)
        log(f"  {process[0].median * 1000:.1f} ms per request; {process[1].describe()}")
        with ray_fleet(data_dir, f"http://127.0.0.1:{free_port()}") as env:
            log("ray: the Ray Serve executor")
            fleet = _measure(data_dir, env, token, texts, ws.quick)
        log(f"  {fleet[0].median * 1000:.1f} ms per request; {fleet[1].describe()}")
    finally:
        remove_tree(work)
    return results(process, fleet)


def results(process: tuple[Latency, Load], fleet: tuple[Latency, Load]) -> list[Result]:
    # Time around the forward pass (request time minus the worker's own time on the same
    # request): the model's compute drops out, and with it most of the noise of a shared machine.
    added_ms = (fleet[0].added - process[0].added) * 1000
    ratio = fleet[1].rate / process[1].rate
    return [
        Result(
            "ray: added latency, 1 embedding",
            f"+{added_ms:.1f} ms p50 ({fleet[0].added * 1000:.1f} ms around the model)",
            f"process executor {process[0].added * 1000:.1f} ms around the model",
            target=f"<= +{TARGET_ADDED_MS:.0f} ms",
            met=added_ms <= TARGET_ADDED_MS,
            note=f"ray: one request {fleet[0].median * 1000:.1f} ms p50, process executor "
            f"{process[0].median * 1000:.1f} ms",
        ),
        Result(
            "ray: 32 clients, embeddings",
            f"{fleet[1].rate:.0f} sent/s",
            f"process executor {process[1].rate:.0f} sent/s",
            ratio=ratio,
            target=f">= {TARGET_THROUGHPUT}x",
            met=ratio >= TARGET_THROUGHPUT,
            note=f"ray, 32 clients: {fleet[1].describe()}; process: {process[1].describe()}",
        ),
    ]
