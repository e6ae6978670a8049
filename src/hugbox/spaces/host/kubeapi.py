"""The Kubernetes API calls of the spaces backend (lightkube): apply a space's Deployment and
Service, scale it to 1 (wake) or 0 (sleep), read its state, delete it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from lightkube import ApiError, AsyncClient, codecs
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Service

from hugbox.spaces.proxy.upstream import TcpAddress

FIELD_MANAGER = "hugbox"


class RunState(StrEnum):
    """What the cluster says of a space's Deployment."""

    ABSENT = "absent"
    SLEEPING = "sleeping"  # replicas 0
    STARTING = "starting"  # replicas 1, not ready yet
    RUNNING = "running"  # a ready replica behind the Service


class KubeSpaces:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def apply(self, manifests: list[dict[str, Any]]) -> None:
        """Server-side apply: creates or updates, and our fields win over older ones of ours."""
        for manifest in manifests:
            await self._client.apply(codecs.from_dict(manifest), field_manager=FIELD_MANAGER,
                                     force=True)  # fmt: skip

    async def scale(self, name: str, replicas: int) -> None:
        """Wake (1) or put to sleep (0): the Deployment stays, its pod comes or goes."""
        await self._client.patch(Deployment, name, {"spec": {"replicas": replicas}})

    async def state(self, name: str) -> RunState:
        try:
            found = await self._client.get(Deployment, name)
        except ApiError as error:
            if error.status.code == 404:
                return RunState.ABSENT
            raise
        if found.spec is None or not found.spec.replicas:
            return RunState.SLEEPING
        ready = found.status.readyReplicas if found.status is not None else None
        return RunState.RUNNING if ready else RunState.STARTING

    async def endpoint(self, name: str, namespace: str) -> TcpAddress:
        """Where the space's Service answers: its cluster IP, or its DNS name when it has none
        (a headless Service), at its first port."""
        found = await self._client.get(Service, name)
        spec = found.spec
        if spec is None or not spec.ports:
            raise LookupError(f"service {name} has no port")
        ip = spec.clusterIP
        host = ip if ip and ip != "None" else f"{name}.{namespace}.svc"
        return TcpAddress(host, spec.ports[0].port)

    async def close(self) -> None:
        await self._client.close()

    async def delete(self, name: str) -> None:
        for kind in (Deployment, Service):
            try:
                await self._client.delete(kind, name)
            except ApiError as error:
                if error.status.code != 404:
                    raise
