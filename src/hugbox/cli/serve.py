"""`hugbox serve`: run the hub with uvicorn."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from typing import Any

import typer
import uvicorn

from hugbox import malloc
from hugbox.app import create_app, served
from hugbox.cli.context import DataDirOption, err, operator
from hugbox.observability.logs import logging_config
from hugbox.repos import reconcile
from hugbox.settings import InferenceBackend, Settings


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes (about one per core)."),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
    memory_budget: str | None = typer.Option(
        None,
        help="Memory loaded models may use together, e.g. 8GiB [HUGBOX_INFERENCE_MEMORY_BUDGET].",
    ),
    pin: list[str] = typer.Option(
        [],
        help="A model to load at start and never evict; repeat for more [HUGBOX_INFERENCE_PINNED].",
    ),
    inference_threads: int | None = typer.Option(
        None, min=1, help="Torch threads per model worker [HUGBOX_INFERENCE_THREADS]."
    ),
    spaces_port: int | None = typer.Option(
        None, help="Port of the spaces origin (default: --port + 1) [HUGBOX_SPACES_PORT]."
    ),
    data_dir: DataDirOption = None,
) -> None:
    """Start the hub (migrating the database first), and the spaces host beside it."""
    _export_inference_options(memory_budget, pin, inference_threads, workers)
    op = operator(data_dir)
    # A change cut short between moving a ref and committing (a crash, a kill -9).
    if healed := reconcile.heal(op.database, op.store):
        err.print(f"Healed {healed} repos whose refs moved without the database.")
    op.close()  # the app builds its own context: this one's connections would idle meanwhile
    # Worker processes and the spaces host read their settings from the environment.
    os.environ["HUGBOX_DATA_DIR"] = str(op.settings.data_dir.resolve())
    spaces_port = spaces_port or op.settings.spaces_port or port + 1
    os.environ["HUGBOX_SPACES_PORT"] = str(spaces_port)
    if op.settings.inference_backend is InferenceBackend.RAY:
        # Ray replicas download models from the hub: tell them where it listens.
        os.environ.setdefault("HUGBOX_RAY_HUB_URL", f"http://{reachable(host)}:{port}")
        if op.settings.ray_address:
            _deploy_on_ray(op.settings, op.secret)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": logging_config(log_level, op.settings.log_format),
        "access_log": False,  # the app writes its own access lines (hugbox.observability.access)
        # X-Forwarded-Proto/-For are believed only from these proxies (the URLs the hub returns
        # follow them); `*` trusts every client, which only a hub reachable solely through its
        # proxy may do.
        "proxy_headers": True,
        "forwarded_allow_ips": op.settings.forwarded_allow_ips,
        "date_header": False,  # the app writes an exact one (hugbox.middleware.http_date)
        # Longer than clients keep an idle connection (httpx: 5 s), so a client never reuses one
        # the server is closing at that moment: uvicorn's own 5 s raced a client that waited out
        # a 429's Retry-After, and its next request met a reset connection.
        "timeout_keep_alive": 15,
    }
    spaces_host = None
    if op.settings.spaces_enabled:
        spaces_host = _start_spaces_host(
            host=host, port=port, spaces_port=spaces_port, log_level=log_level
        )
    try:
        if workers == 1:
            malloc.tune()  # workers tune themselves (create_app_from_env)
            uvicorn.run(served(create_app(Settings())), **options)
        else:
            uvicorn.run("hugbox.app:create_app_from_env", factory=True, workers=workers, **options)
    finally:
        if spaces_host is not None:
            _stop(spaces_host)


def _export_inference_options(
    memory_budget: str | None, pin: list[str], threads: int | None, workers: int
) -> None:
    """Options become the settings' environment variables, which worker processes inherit.
    Server processes share the cores: each keeps at most its share of them busy."""
    if memory_budget is not None:
        os.environ["HUGBOX_INFERENCE_MEMORY_BUDGET"] = memory_budget
    if pin:
        os.environ["HUGBOX_INFERENCE_PINNED"] = json.dumps(pin)
    if threads is not None:
        os.environ["HUGBOX_INFERENCE_THREADS"] = str(threads)
    if workers > 1 and "HUGBOX_INFERENCE_CORES" not in os.environ:
        os.environ["HUGBOX_INFERENCE_CORES"] = str(max(1, (os.cpu_count() or 1) // workers))


def _deploy_on_ray(settings: Settings, secret: bytes) -> None:
    """The hugbox Serve application, deployed once by this parent process however many server
    processes follow: they all call the same replicas, so each model loads once for the hub."""
    import ray

    from hugbox.inference.worker import ray_app

    err.print(f"Deploying the hugbox application on Ray ({settings.ray_address})...")
    ray.init(address=settings.ray_address, logging_level=logging.WARNING)
    try:
        ray_app.deploy(settings, secret)
    finally:
        ray.shutdown()  # Serve applications outlive the driver that deployed them


def reachable(host: str) -> str:
    """An address to connect to for a server listening on `host`."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a comparison


def _start_spaces_host(
    *, host: str, port: int, spaces_port: int, log_level: str
) -> subprocess.Popen[bytes]:
    """The spaces host as a child of `hugbox serve`: one per machine, whatever the workers."""
    command = [sys.executable, "-m", "hugbox", "spaces", "serve", "--host", host,
               "--port", str(spaces_port), "--hub-url", f"http://{reachable(host)}:{port}",
               "--log-level", log_level, "--parent-pid", str(os.getpid())]  # fmt: skip
    return subprocess.Popen(command)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()  # its apps die with it (their sandboxes die with their parent)
        process.wait()
