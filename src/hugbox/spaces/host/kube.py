"""Runs space apps on Kubernetes: one Deployment and one Service per space (manifests.py),
applied through the cluster's API (kubeapi.py). A start applies the Deployment with one replica,
a stop (sleep) scales it to zero and keeps it, so a wake is one apply away. The proxy reaches
the app at its Service over TCP, from whichever spaces host serves the visit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import httpx
import httpx2
from lightkube import ApiError, AsyncClient, ConfigError, KubeConfig

from hugbox.spaces.host import runner
from hugbox.spaces.host.kubeapi import FIELD_MANAGER, KubeSpaces, RunState
from hugbox.spaces.host.manifests import KubeSpace, manifests, name_of
from hugbox.spaces.host.runner import Launch
from hugbox.spaces.proxy.upstream import Endpoint, TcpAddress

log = logging.getLogger(__name__)
# The API refused (ApiError) or did not answer (lightkube's HTTP client is httpx2).
_API_ERRORS = (ApiError, httpx2.HTTPError, OSError)
WATCH_EVERY_S = 5.0  # how often a running app's Deployment is checked for having gone


@dataclass(frozen=True)
class KubeSetup:
    namespace: str  # where every space's Deployment and Service go
    image: str  # the base image pods run (the space's venv and code mounted from the node)
    hub_url: str  # the hub as pods reach it: the apps' HF_ENDPOINT
    poll_s: float = 0.5  # how often a starting app's readiness is read


def client(*, api_url: str | None, kubeconfig: str | None, namespace: str) -> AsyncClient:
    """A client of the cluster's API: at `api_url` as given (`kubectl proxy`, or a test's
    server), else from a kubeconfig file, else in-cluster or $KUBECONFIG (lightkube's order).
    It connects on first use."""
    try:
        if api_url is not None:
            config = KubeConfig.from_dict(_no_credentials(api_url, namespace))
        elif kubeconfig is not None:
            config = KubeConfig.from_file(kubeconfig)
        else:
            config = KubeConfig.from_env()
    except ConfigError as error:
        raise ValueError(f"HUGBOX_SPACES_RUNNER=kubernetes: no cluster found: {error}") from None
    return AsyncClient(config, namespace=namespace, field_manager=FIELD_MANAGER)


def _no_credentials(api_url: str, namespace: str) -> dict[str, Any]:
    """A kubeconfig of one cluster and a user without credentials (`kubectl proxy` adds
    them): lightkube's own `from_server` leaves the user out, which its client refuses."""
    return {
        "clusters": [{"name": "hugbox", "cluster": {"server": api_url}}],
        "users": [{"name": "hugbox", "user": {}}],
        "contexts": [{"name": "hugbox", "context": {"cluster": "hugbox", "user": "hugbox",
                                                    "namespace": namespace}}],
        "current-context": "hugbox",
    }  # fmt: skip


class KubeRunner:
    kind = "kubernetes"

    def __init__(self, api: KubeSpaces, setup: KubeSetup) -> None:
        self.api = api
        self.setup = setup

    async def start(self, launch: Launch) -> runner.App:
        name = name_of(_pk(launch))
        space = KubeSpace(name=name, launch=launch, image=launch.image or self.setup.image,
                          probe_path=launch.probe_path, hub_url=self.setup.hub_url)  # fmt: skip
        run_log = runner.RunLog(launch.log_path, launch.secrets)
        run_log.write(f"--> starting as Deployment {name} in namespace {self.setup.namespace}")
        try:
            await self.api.apply(manifests(space))
        except BaseException:
            run_log.close()
            raise
        return KubeApp(self.api, self.setup, name, run_log)

    async def remove(self, pk: int) -> None:
        """A deleted space: its Deployment and Service go (a sleeping one keeps both)."""
        try:
            await self.api.delete(name_of(pk))
        except _API_ERRORS as error:
            log.warning("spaces: cannot remove %s: %s", name_of(pk), error)

    async def problem(self) -> str | None:
        """Why apps cannot run (the API unreachable, or refusing us), or None."""
        try:
            await self.api.state(name_of(0))
        except _API_ERRORS as error:
            return f"the Kubernetes API refused or did not answer: {error}"
        return None

    async def close(self) -> None:
        await self.api.close()


class KubeApp:
    """A space's Deployment while it has a replica. Kubernetes restarts a crashed app itself
    (its readiness probe takes it out of the Service meanwhile), so the app counts as ended
    only when its Deployment is scaled down or deleted by someone else."""

    def __init__(self, api: KubeSpaces, setup: KubeSetup, name: str, run_log: runner.RunLog):
        self.pod = name
        self.returncode: int | None = None
        # Known once the Service is read; until then, the name the cluster's DNS gives it.
        self.socket: Endpoint = TcpAddress(f"{name}.{setup.namespace}.svc", 80)
        self._api = api
        self._setup = setup
        self._log = run_log
        self._stopped = asyncio.Event()

    @property
    def tail(self) -> list[str]:
        return list(self._log.tail)

    async def wait_ready(self, probe_path: str, timeout: float) -> None:  # noqa: ASYNC109
        """Until the Deployment has a ready replica and its Service answers here."""
        async with asyncio.timeout(timeout):
            while (state := await self._api.state(self.pod)) is not RunState.RUNNING:
                if state in (RunState.ABSENT, RunState.SLEEPING):
                    self.returncode = -1
                    raise runner.AppExited(-1, [f"the Deployment became {state.value}"])
                await asyncio.sleep(self._setup.poll_s)
            self.socket = await self._api.endpoint(self.pod, self._setup.namespace)
            await _answers(self.socket, probe_path, self._setup.poll_s)
        self._log.write(f"--> ready; served at {self.socket.host}:{self.socket.port}")

    async def wait(self) -> int:
        """0 once stopped by us; -1 if the Deployment was scaled down or removed by another."""
        while not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), WATCH_EVERY_S)
                break
            if await self._gone():
                self.returncode = -1
                return -1
        return 0

    async def _gone(self) -> bool:
        try:
            state = await self._api.state(self.pod)
        except _API_ERRORS as error:
            log.warning("spaces: cannot read Deployment %s: %s", self.pod, error)
            return False  # the API is down, not the app: ask again later
        return state in (RunState.ABSENT, RunState.SLEEPING)

    async def stop(self, grace: float = 5.0) -> None:
        """Scale to zero: the pod goes (Kubernetes gives it its own grace period), the
        Deployment and Service stay for the next wake."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.returncode = 0
        self._log.write("--> stopping: scaled to 0 replicas")
        self._log.close()
        with contextlib.suppress(ApiError):  # gone already: nothing left to stop
            await self._api.scale(self.pod, 0)


async def _answers(address: Endpoint, probe_path: str, poll_s: float) -> None:
    """Until the app answers below 500 at its Service: the proxy will reach it the same way."""
    assert isinstance(address, TcpAddress)
    url = f"http://{address.host}:{address.port}{probe_path}"
    async with httpx.AsyncClient(timeout=10) as probe:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await probe.get(url)).status_code < 500:
                    return
            await asyncio.sleep(poll_s)


def _pk(launch: Launch) -> int:
    return int(launch.run_dir.parent.name)  # <spaces dir>/<pk>/run (files.SpaceFiles)
