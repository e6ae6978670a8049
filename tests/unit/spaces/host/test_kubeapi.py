"""The Kubernetes API calls of the spaces backend against answers recorded from the API's
documented shapes, replayed by an httpx MockTransport (the outside world, not our code): the
exact method, path, query and patch type of each call, and how each answer is read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from lightkube import ApiError, AsyncClient, KubeConfig

from hugbox.spaces.host.kubeapi import KubeSpaces, RunState
from hugbox.spaces.host.manifests import KubeSpace, manifests
from hugbox.spaces.host.runner import Launch
from hugbox.spaces.host.sandbox import SandboxLimits

NS = "spaces"
LABELS = {"hugbox.org/space": "space-7"}
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
SERVICES = f"/api/v1/namespaces/{NS}/services"
Seen = list[tuple[str, str, str, Any]]


def _deployment(replicas: int, ready: int | None) -> dict[str, Any]:
    """A Deployment as the API server returns it (trimmed to what is read)."""
    status: dict[str, Any] = {"observedGeneration": 2, "replicas": replicas}
    if ready is not None:
        status["readyReplicas"] = ready
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "space-7", "namespace": NS, "resourceVersion": "4711"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS},
                     "template": {"spec": {"containers": [{"name": "app", "image": "base:1"}]}}},
            "status": status}  # fmt: skip


NOT_FOUND = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": 'deployments.apps "space-7" not found', "reason": "NotFound",
             "details": {"name": "space-7", "group": "apps", "kind": "deployments"},
             "code": 404}  # fmt: skip
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "space-7", "namespace": NS},
           "spec": {"ports": [{"port": 80, "targetPort": 7860}]}}  # fmt: skip
DELETED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}


def _api(answer: Callable[[httpx2.Request], tuple[int, dict[str, Any]]], seen: Seen) -> KubeSpaces:
    def handler(request: httpx2.Request) -> httpx2.Response:
        body = request.content.decode() if request.content else ""
        content = (request.headers.get("content-type"), json.loads(body) if body else None)
        seen.append((request.method, request.url.path, request.url.query.decode(), content))
        status, payload = answer(request)
        return httpx2.Response(status, json=payload)

    config = KubeConfig.from_dict({
        "clusters": [{"name": "test", "cluster": {"server": "https://kube.test:6443"}}],
        "users": [{"name": "hugbox", "user": {"token": "sa-token"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "hugbox",
                                                  "namespace": NS}}],
        "current-context": "test",
    })  # fmt: skip
    return KubeSpaces(AsyncClient(config, transport=httpx2.MockTransport(handler)))


def _space() -> KubeSpace:
    limits = SandboxLimits(memory_bytes=2**29, processes=64, open_files=1024, disk_bytes=2**26)
    launch = Launch(space_id="alice/demo", uid=200_007, app_dir=Path("/d/app"), venv=Path("/d/v"),
                    command=["/opt/venv/bin/python", "app.py"], app_port=7860, env={},
                    run_dir=Path("/d/run"), hub_address=("h", 1), hub_port_inside=8000,
                    log_path=Path("/d/log"), secrets=(), limits=limits)  # fmt: skip
    return KubeSpace(name="space-7", launch=launch, image="base:1", probe_path="/",
                     hub_url="http://hub:8000")  # fmt: skip


def test_apply_is_a_server_side_apply_of_each_manifest_by_hugbox() -> None:
    seen: Seen = []
    answers = {"deployments": (200, _deployment(1, None)), "services": (200, SERVICE)}
    api = _api(lambda r: answers[r.url.path.split("/")[-2]], seen)
    asyncio.run(api.apply(manifests(_space())))
    assert [(m, p) for m, p, _, _ in seen] == [("PATCH", f"{DEPLOYMENTS}/space-7"),
                                               ("PATCH", f"{SERVICES}/space-7")]  # fmt: skip
    for _, _, query, (content_type, _) in seen:
        assert "fieldManager=hugbox" in query and "force=true" in query
        assert content_type == "application/apply-patch+yaml"
    assert seen[0][3][1]["spec"]["replicas"] == 1 and seen[1][3][1]["kind"] == "Service"


def test_wake_and_sleep_patch_the_replicas_only() -> None:
    seen: Seen = []
    api = _api(lambda r: (200, _deployment(0, None)), seen)
    asyncio.run(api.scale("space-7", 0))
    [(method, path, _, (content_type, body))] = seen
    assert (method, path, body) == ("PATCH", f"{DEPLOYMENTS}/space-7", {"spec": {"replicas": 0}})
    assert content_type == "application/strategic-merge-patch+json"


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ((200, _deployment(1, 1)), RunState.RUNNING),
        ((200, _deployment(1, None)), RunState.STARTING),
        ((200, _deployment(1, 0)), RunState.STARTING),
        ((200, _deployment(0, None)), RunState.SLEEPING),
        ((404, NOT_FOUND), RunState.ABSENT),
    ],
)
def test_state_reads_replicas_and_ready_replicas(
    answer: tuple[int, dict[str, Any]], state: RunState
) -> None:
    seen: Seen = []
    assert asyncio.run(_api(lambda r: answer, seen).state("space-7")) is state
    assert seen[0][:2] == ("GET", f"{DEPLOYMENTS}/space-7")


def test_delete_removes_both_and_tolerates_what_is_gone() -> None:
    seen: Seen = []
    answers = {"deployments": (404, NOT_FOUND), "services": (200, DELETED)}
    asyncio.run(_api(lambda r: answers[r.url.path.split("/")[-2]], seen).delete("space-7"))
    assert [(m, p) for m, p, _, _ in seen] == [("DELETE", f"{DEPLOYMENTS}/space-7"),
                                               ("DELETE", f"{SERVICES}/space-7")]  # fmt: skip


def test_other_api_errors_are_raised() -> None:
    forbidden = {**NOT_FOUND, "reason": "Forbidden", "code": 403, "message": "forbidden"}
    with pytest.raises(ApiError):
        asyncio.run(_api(lambda r: (403, forbidden), []).state("space-7"))
