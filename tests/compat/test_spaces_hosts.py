"""Two spaces hosts serve one hub: two `hugbox serve` processes on one data dir (the repos and
the spaces volume shared, as on a POSIX volume) and one database (PostgreSQL in the PostgreSQL
run), their apps on one (fake) Kubernetes cluster. One host supervises, by a lease in the
database; a space it started is proxied by the other at its Service's address from
`space_runs`, a visit through the other wakes it, visits there keep it awake, and when the
supervising host stops the other takes over."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from gradio_client import Client
from huggingface_hub import HfApi

from compat.test_spaces_apps import _gradio_space, _wait
from compat.test_spaces_kubernetes import NAMESPACE, kube_env, space_run
from fakekube import FakeCluster, fake_cluster
from support import create_token, run_cli, running_hub

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="the fake kubelet needs bubblewrap"),
]


class TwoHosts(NamedTuple):
    hubs: list[str]
    token: str
    data_dir: Path
    cluster: FakeCluster
    stacks: list[contextlib.ExitStack]  # closing one stops that hub and its spaces host


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoHosts]:
    data_dir = tmp_path_factory.mktemp("two-hosts")
    with fake_cluster(tmp_path_factory.mktemp("kubelet")) as cluster:
        assert run_cli(data_dir, "user", "create", "alice", "--password", "pw").returncode == 0
        token = create_token(data_dir, "alice", "write")
        stacks = [contextlib.ExitStack(), contextlib.ExitStack()]
        with stacks[0], stacks[1]:
            hubs = [stack.enter_context(running_hub(data_dir, env=kube_env(cluster)))
                    for stack in stacks]  # fmt: skip
            yield TwoHosts(hubs, token, data_dir, cluster, stacks)


def _app_urls(hosts: TwoHosts, repo_id: str) -> list[str]:
    """The space's URL on each hub's own spaces origin."""
    urls = [HfApi(endpoint=hub, token=hosts.token).space_info(repo_id).host for hub in hosts.hubs]
    assert all(urls) and len(set(urls)) == 2
    return [url for url in urls if url]


def _replicas(cluster: FakeCluster, repo_id: str, api: HfApi) -> int:
    headers = {"authorization": f"Bearer {api.token}"}
    pk = int(httpx.get(f"{api.endpoint}/api/spaces/{repo_id}", headers=headers).json()["_id"][6:])
    with cluster.lock:
        replicas: int = cluster.objects[(NAMESPACE, "deployments", f"space-{pk}")]["spec"][
            "replicas"]  # fmt: skip
    return replicas


def test_a_space_started_by_one_host_is_served_and_woken_by_the_other(
    two_hosts: TwoHosts,
) -> None:
    apis = [HfApi(endpoint=hub, token=two_hosts.token) for hub in two_hosts.hubs]
    repo_id = _gradio_space(apis[0], env={"GREETING": "Both"})
    supervising = space_run(two_hosts.data_dir, repo_id)["host"]
    urls = _app_urls(two_hosts, repo_id)
    [other] = [url for url in urls if not url.startswith(supervising + "/")]
    # Proxied by the host that did not start it, at the Service's address it read.
    assert Client(other, verbose=False).predict("x", api_name="/greet") == "Both x"

    # Sleep is seen by both hubs; a visit through the other host wakes the app.
    apis[1].set_space_sleep_time(repo_id, 1)
    for api in apis:
        _wait(api, repo_id, {"SLEEPING"}, timeout=30)
    assert _replicas(two_hosts.cluster, repo_id, apis[0]) == 0
    assert httpx.get(f"{other}gradio_api/info", timeout=120).status_code == 200
    for api in apis:
        assert api.get_space_runtime(repo_id).stage == "RUNNING"
    assert _replicas(two_hosts.cluster, repo_id, apis[0]) == 1
    assert space_run(two_hosts.data_dir, repo_id)["host"] == supervising

    # Visits through the other host keep it awake past its sleep time; without them it sleeps.
    apis[0].set_space_sleep_time(repo_id, 4)
    until = time.monotonic() + 10
    while time.monotonic() < until:
        assert httpx.get(f"{other}gradio_api/info", timeout=30).status_code == 200
        time.sleep(1)
    assert apis[1].get_space_runtime(repo_id).stage == "RUNNING"
    _wait(apis[1], repo_id, {"SLEEPING"}, timeout=30)


def test_when_the_supervising_host_stops_the_other_takes_over(two_hosts: TwoHosts) -> None:
    apis = [HfApi(endpoint=hub, token=two_hosts.token) for hub in two_hosts.hubs]
    repo_id = _gradio_space(apis[0])
    supervising = space_run(two_hosts.data_dir, repo_id)["host"]
    urls = _app_urls(two_hosts, repo_id)
    leader = next(i for i, url in enumerate(urls) if url.startswith(supervising + "/"))
    two_hosts.stacks[leader].close()  # that hub stops, and its spaces host a second later
    survivor, api = urls[1 - leader], apis[1 - leader]
    deadline = time.monotonic() + 30
    while _replicas(two_hosts.cluster, repo_id, api):  # it stopped its apps, freed the lease
        assert time.monotonic() < deadline, "the stopping host left its app running"
        time.sleep(0.2)
    deadline = time.monotonic() + 60
    while (answer := httpx.get(f"{survivor}gradio_api/info", timeout=60)).status_code != 200:
        assert time.monotonic() < deadline, answer.text
        time.sleep(1)
    assert Client(survivor, verbose=False).predict("y", api_name="/greet") == "Hello y"
    assert space_run(two_hosts.data_dir, repo_id)["host"] != supervising
    assert api.get_space_runtime(repo_id).stage == "RUNNING"
