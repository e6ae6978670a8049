"""The spaces host: the one process of a machine that builds and runs apps (the supervisor)
and serves them on the spaces origin (the proxy)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from hugbox.context import build_context
from hugbox.settings import Settings, SpacesRunner
from hugbox.spaces.config import SdkDefaults
from hugbox.spaces.host import kube, runner, sandbox
from hugbox.spaces.host.containers import ContainerRunner
from hugbox.spaces.host.directory import SpacesDirectory
from hugbox.spaces.host.engine import Engine, EngineError
from hugbox.spaces.host.kube import KubeRunner
from hugbox.spaces.host.kubeapi import KubeSpaces
from hugbox.spaces.host.sandbox import SandboxLimits
from hugbox.spaces.host.supervisor import Space, Supervisor, SupervisorSetup
from hugbox.spaces.proxy.origin import SpacesProxy, create_proxy

log = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def supervisor_for(
    settings: Settings, *, hub_address: tuple[str, int], spaces_url: str
) -> Supervisor:
    context = build_context(settings)
    setup = SupervisorSetup(
        database=context.database,
        store=context.store,
        spaces_dir=settings.spaces_dir,
        spaces_url=spaces_url,
        hub_address=hub_address,
        uv_cache=settings.spaces_uv_cache or settings.spaces_dir / "uv-cache",
        sdk_defaults=SdkDefaults(
            gradio=settings.spaces_gradio_version,
            streamlit=settings.spaces_streamlit_version,
            docker=settings.container_host is not None,
        ),
        limits=SandboxLimits(
            memory_bytes=int(settings.spaces_memory),
            processes=settings.spaces_processes,
            open_files=4096,
            disk_bytes=int(settings.spaces_disk),
        ),
        max_running=max(1, settings.spaces_max_running),
        default_sleep=settings.spaces_sleep_time,
        build_timeout=settings.spaces_build_timeout,
        **runners_for(settings, hub_address=hub_address),
    )
    return Supervisor(setup)


def runners_for(settings: Settings, *, hub_address: tuple[str, int]) -> dict[str, Any]:
    """The runner of apps, and the engine of Docker spaces (the same one when apps run in
    containers too); the engine's client connects on first use."""
    engine = None
    if settings.container_host is not None:
        engine = ContainerRunner(Engine(settings.container_host), settings.spaces_base_image,
                                 settings.spaces_dir)  # fmt: skip
    if settings.spaces_runner is SpacesRunner.BUBBLEWRAP:
        return {"runner": runner.BubblewrapRunner(), "images": engine}
    if settings.spaces_runner is SpacesRunner.KUBERNETES:
        return {"runner": kube_runner(settings, hub_address), "images": engine}
    if engine is None:
        raise ValueError("HUGBOX_SPACES_RUNNER=container needs HUGBOX_CONTAINER_HOST")
    return {"runner": engine, "images": engine}


def kube_runner(settings: Settings, hub_address: tuple[str, int]) -> KubeRunner:
    """Apps on Kubernetes (a Docker space still builds and runs on the container engine, if
    one is configured: the cluster could not pull an image built there)."""
    namespace = settings.kube_namespace
    kubeconfig = str(settings.kube_config) if settings.kube_config else None
    api = kube.client(api_url=settings.kube_api_url, kubeconfig=kubeconfig, namespace=namespace)
    hub_url = settings.kube_hub_url or f"http://{hub_address[0]}:{hub_address[1]}"
    setup = kube.KubeSetup(namespace=namespace, hub_url=hub_url,
                           image=settings.kube_image or settings.spaces_base_image)  # fmt: skip
    return KubeRunner(KubeSpaces(api), setup)


def create_spaces_app(
    settings: Settings, *, hub_address: tuple[str, int], hub_url: str, spaces_url: str,
    parent_pid: int | None = None,
) -> ASGIApp:  # fmt: skip
    """The proxy, with the supervisor run by its lifespan; with `parent_pid`, it stops when
    that process (the `hugbox serve` that started it) is gone."""
    supervisor = supervisor_for(settings, hub_address=hub_address, spaces_url=spaces_url)
    directory = SpacesDirectory(supervisor, supervisor.setup.database)
    proxy = create_proxy(directory, hub_url=hub_url)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await proxy(scope, receive, send)
            return
        await _lifespan(supervisor, proxy, receive, send, parent_pid=parent_pid)

    return app


async def _lifespan(
    supervisor: Supervisor,
    proxy: SpacesProxy[Space],
    receive: Receive,
    send: Send,
    *,
    parent_pid: int | None,
) -> None:
    await receive()  # lifespan.startup
    problem = await _runner_problem(supervisor.setup.runner)
    if problem is not None:
        log.error("spaces: apps cannot run here: %s", problem)
    await _sweep(supervisor.setup.images)
    await supervisor.poll()
    tasks = [asyncio.create_task(supervisor.run())]
    if parent_pid is not None:
        tasks.append(asyncio.create_task(_exit_with_parent(parent_pid)))
    await send({"type": "lifespan.startup.complete"})
    await receive()  # lifespan.shutdown
    for task in tasks:
        task.cancel()
    await supervisor.close()
    await proxy.close()
    await send({"type": "lifespan.shutdown.complete"})


async def _runner_problem(chosen: runner.Runner) -> str | None:
    if isinstance(chosen, ContainerRunner | KubeRunner):
        return await chosen.problem()
    return sandbox.available()


async def _sweep(engine: ContainerRunner | None) -> None:
    if engine is None:
        return
    try:
        await engine.sweep()
    except EngineError as error:
        log.error("spaces: cannot list the containers of an earlier spaces host: %s", error)


async def _exit_with_parent(parent_pid: int) -> None:
    """Started by `hugbox serve`, the host stops when the hub does, even if it was killed
    (perhaps before this process got this far: its pid came on the command line)."""
    while os.getppid() == parent_pid:  # noqa: ASYNC110 - no event says a parent died: poll
        await asyncio.sleep(1.0)
    log.warning("spaces: the hub process is gone; stopping")
    os.kill(os.getpid(), signal.SIGTERM)
