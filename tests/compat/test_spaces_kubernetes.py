"""Spaces on Kubernetes, end to end: a hub with `HUGBOX_SPACES_RUNNER=kubernetes` against a fake
cluster in the test process (tests/fakekube.py: an API server answering as kube-apiserver does,
and a kubelet that runs each pod's own command). The hub applies the space's Deployment and
Service, the proxy reaches the app at the Service's address over TCP, sleep scales the
Deployment to 0 and a visit scales it back to 1."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
import sqlalchemy as sa
from gradio_client import Client
from huggingface_hub import HfApi

from compat.test_spaces_apps import _gradio_space, _wait
from fakekube import FakeCluster, fake_cluster
from support import create_token, run_cli, running_hub
from testdb import data_dir_env

NAMESPACE = "hugbox-test"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
SERVICES = f"/api/v1/namespaces/{NAMESPACE}/services"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="the fake kubelet needs bubblewrap"),
]


class KubeHub(NamedTuple):
    endpoint: str
    token: str
    data_dir: Path
    cluster: FakeCluster


def kube_env(cluster: FakeCluster) -> dict[str, str]:
    return {"HUGBOX_SPACES_RUNNER": "kubernetes", "HUGBOX_KUBE_API_URL": cluster.url,
            "HUGBOX_KUBE_NAMESPACE": NAMESPACE}  # fmt: skip


@pytest.fixture(scope="module")
def kube_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeHub]:
    data_dir = tmp_path_factory.mktemp("kube-hub")
    with fake_cluster(tmp_path_factory.mktemp("kubelet")) as cluster:
        assert run_cli(data_dir, "user", "create", "alice", "--password", "pw").returncode == 0
        token = create_token(data_dir, "alice", "write")
        with running_hub(data_dir, env=kube_env(cluster)) as endpoint:
            yield KubeHub(endpoint, token, data_dir, cluster)


def space_run(data_dir: Path, repo_id: str) -> dict[str, Any]:
    """The space's row in space_runs, from the hub's own database (SQLite or PostgreSQL)."""
    url = data_dir_env(data_dir).get("HUGBOX_DATABASE_URL") or f"sqlite:///{data_dir}/hugbox.db"
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    owner, name = repo_id.split("/")
    query = sa.text(
        "SELECT space_runs.* FROM space_runs JOIN repos ON repos.id = space_runs.repo_pk "
        "WHERE repos.namespace = :owner AND repos.name = :name"
    )
    try:
        with engine.connect() as connection:
            row = connection.execute(query, {"owner": owner, "name": name}).mappings().first()
    finally:
        engine.dispose()
    assert row is not None, f"no space_runs row for {repo_id}"
    return dict(row)


def _pk(api: HfApi, repo_id: str) -> int:
    info = httpx.get(f"{api.endpoint}/api/spaces/{repo_id}",
                     headers={"authorization": f"Bearer {api.token}"}).json()  # fmt: skip
    return int(info["_id"].removeprefix("space-"))


def _replicas(cluster: FakeCluster, name: str) -> int:
    with cluster.lock:
        replicas: int = cluster.objects[(NAMESPACE, "deployments", name)]["spec"]["replicas"]
    return replicas


def test_a_gradio_space_runs_as_a_deployment_behind_its_service(kube_hub: KubeHub) -> None:
    api = HfApi(endpoint=kube_hub.endpoint, token=kube_hub.token)
    repo_id = _gradio_space(api, env={"GREETING": "Hi"})
    name = f"space-{_pk(api, repo_id)}"
    cluster = kube_hub.cluster
    applied = [(m, p) for m, p, body in cluster.calls if m == "PATCH" and "kind" in (body or {})]
    assert (("PATCH", f"{DEPLOYMENTS}/{name}") in applied
            and ("PATCH", f"{SERVICES}/{name}") in applied)  # fmt: skip
    assert _replicas(cluster, name) == 1 and cluster.running(NAMESPACE, name)
    client = Client(api.space_info(repo_id).host, verbose=False)
    assert client.predict("box", api_name="/greet") == "Hi box"
    run = space_run(kube_hub.data_dir, repo_id)
    assert (run["runner"], run["pod"], run["state"]) == ("kubernetes", name, "running")
    # The secret reached the app through its pod's environment, and is masked in its log.
    assert "psst-1234" not in "".join(api.fetch_space_logs(repo_id))


def test_sleep_scales_to_zero_and_a_visit_scales_back(kube_hub: KubeHub) -> None:
    api = HfApi(endpoint=kube_hub.endpoint, token=kube_hub.token)
    repo_id = _gradio_space(api)
    name = f"space-{_pk(api, repo_id)}"
    cluster = kube_hub.cluster
    api.set_space_sleep_time(repo_id, 1)
    _wait(api, repo_id, {"SLEEPING"}, timeout=30)
    assert _replicas(cluster, name) == 0 and not cluster.running(NAMESPACE, name)
    assert (NAMESPACE, "services", name) in cluster.objects  # the Service stays for the wake
    assert space_run(kube_hub.data_dir, repo_id)["state"] == "stopped"
    space_host = api.space_info(repo_id).host
    assert space_host is not None
    api.set_space_sleep_time(repo_id, 3600)
    assert httpx.get(f"{space_host}gradio_api/info", timeout=120).status_code == 200  # wakes it
    assert _replicas(cluster, name) == 1
    assert Client(space_host, verbose=False).predict("again", api_name="/greet") == "Hello again"


def test_deleting_a_space_removes_its_deployment_and_service(kube_hub: KubeHub) -> None:
    api = HfApi(endpoint=kube_hub.endpoint, token=kube_hub.token)
    repo_id = _gradio_space(api)
    name = f"space-{_pk(api, repo_id)}"
    cluster = kube_hub.cluster
    api.delete_repo(repo_id, repo_type="space")
    deadline = time.monotonic() + 30
    while (NAMESPACE, "deployments", name) in cluster.objects:
        assert time.monotonic() < deadline, "the Deployment outlived its space"
        time.sleep(0.2)
    assert (NAMESPACE, "services", name) not in cluster.objects
    assert not cluster.running(NAMESPACE, name)
