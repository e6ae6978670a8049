"""Kubernetes manifests of a space: one Deployment (replicas 1 awake, 0 asleep, as hugbox's own
sleep policy, so no Knative is needed) and one Service in front of it. The app runs from the
generic base image with its checkout and venv mounted read-only from the node (the spaces dir on
a volume every node mounts at the same path), or from its own image for `sdk: docker`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hugbox.spaces.host.runner import APP_MOUNT, VENV_MOUNT, Launch
from hugbox.spaces.host.sandbox import HOME

LABEL = "hugbox.org/space"
# The app gets a writable copy of its checkout, as under bubblewrap and in containers.
_COPY_AND_RUN = f'cp -r {APP_MOUNT} "$HOME/app" && cd "$HOME/app" && exec "$@"'
# In a cluster the Service reaches the app over TCP: it listens on every interface of its pod.
_LISTEN_EVERYWHERE = {"GRADIO_SERVER_NAME": "0.0.0.0", "STREAMLIT_SERVER_ADDRESS": "0.0.0.0"}  # noqa: S104


@dataclass(frozen=True)
class KubeSpace:
    """What the manifests of one space are made of."""

    name: str  # DNS-1123 label: space-<pk>
    launch: Launch
    image: str  # the base image, or a Docker space's own
    probe_path: str
    hub_url: str  # the hub as pods reach it (the app's HF_ENDPOINT)
    awake: bool = True


def name_of(pk: int) -> str:
    return f"space-{pk}"


def manifests(space: KubeSpace) -> list[dict[str, Any]]:
    return [deployment(space), service(space)]


def deployment(space: KubeSpace) -> dict[str, Any]:
    labels = {LABEL: space.name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": space.name, "labels": labels, "annotations": _annotations(space)},
        "spec": {
            "replicas": 1 if space.awake else 0,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "Recreate"},  # one app per space, never two during a restart
            "template": {"metadata": {"labels": labels}, "spec": _pod(space)},
        },
    }


def service(space: KubeSpace) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": space.name, "labels": {LABEL: space.name}},
        "spec": {
            "selector": {LABEL: space.name},
            "ports": [{"name": "http", "port": 80, "targetPort": space.launch.app_port}],
        },
    }


def _annotations(space: KubeSpace) -> dict[str, str]:
    return {"hugbox.org/repo-id": space.launch.space_id}


def _pod(space: KubeSpace) -> dict[str, Any]:
    uid = space.launch.uid
    return {
        "automountServiceAccountToken": False,  # the app gets no credentials of the cluster
        "enableServiceLinks": False,  # nor the addresses of every other space
        "securityContext": {"runAsUser": uid, "runAsGroup": uid, "runAsNonRoot": True},
        "containers": [_container(space)],
        "volumes": _volumes(space),
    }


def _container(space: KubeSpace) -> dict[str, Any]:
    launch = space.launch
    limits = launch.limits
    container: dict[str, Any] = {
        "name": "app",
        "image": space.image,
        "env": [{"name": k, "value": v} for k, v in _environment(space).items()],
        "ports": [{"name": "http", "containerPort": launch.app_port}],
        "resources": {"limits": {"memory": str(limits.memory_bytes + 2 * limits.disk_bytes)}},
        "readinessProbe": {
            "httpGet": {"path": space.probe_path, "port": launch.app_port},
            "periodSeconds": 1,
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": launch.image is None,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    if launch.image is None:
        container["command"] = ["/bin/sh", "-c", _COPY_AND_RUN, "sh", *launch.command]
        container["volumeMounts"] = [
            {"name": "app", "mountPath": APP_MOUNT, "readOnly": True},
            {"name": "venv", "mountPath": VENV_MOUNT, "readOnly": True},
            {"name": "home", "mountPath": HOME},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - the pod's own
        ]
    return container


def _environment(space: KubeSpace) -> dict[str, str]:
    env = {"HOME": HOME, "PATH": f"{VENV_MOUNT}/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    if space.launch.image is not None:
        env = {}
    env.update(space.launch.env)
    env.update(_LISTEN_EVERYWHERE)
    env["HF_ENDPOINT"] = space.hub_url
    return env


def _volumes(space: KubeSpace) -> list[dict[str, Any]]:
    if space.launch.image is not None:
        return []
    disk = space.launch.limits.disk_bytes
    return [
        {"name": "app", "hostPath": {"path": str(space.launch.app_dir), "type": "Directory"}},
        {"name": "venv", "hostPath": {"path": str(space.launch.venv), "type": "Directory"}},
        {"name": "home", "emptyDir": {"medium": "Memory", "sizeLimit": str(disk)}},
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": str(disk // 2)}},
    ]
