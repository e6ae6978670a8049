"""The Kubernetes runner against the fake cluster (tests/fakekube.py: the API server answering
as kube-apiserver does, and a kubelet running the pod's own command): a start applies the
Deployment and Service and is ready once the app answers at the Service's address; a stop
scales to zero and keeps both; an app whose Deployment someone else removes counts as ended."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fakekube import FakeCluster, fake_cluster
from hugbox.spaces.host import kube
from hugbox.spaces.host.kube import KubeRunner, KubeSetup
from hugbox.spaces.host.kubeapi import KubeSpaces
from hugbox.spaces.host.runner import AppExited, Launch
from hugbox.spaces.host.sandbox import SandboxLimits
from hugbox.spaces.proxy.upstream import TcpAddress

NS = "spaces"
pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None or not Path("/usr/bin/python3").exists(),
    reason="the fake kubelet runs pods under bwrap, on the system python",
)
APP = """
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (os.environ.get("GREETING", "hi") + " " + os.getcwd()).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

HTTPServer((os.environ["GRADIO_SERVER_NAME"], int(os.environ["GRADIO_SERVER_PORT"])),
           Handler).serve_forever()
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[FakeCluster]:
    with fake_cluster(tmp_path) as running:
        yield running


def _launch(tmp_path: Path, command: list[str] | None = None) -> Launch:
    app, venv = tmp_path / "7" / "builds" / "abc" / "app", tmp_path / "venv"
    app.mkdir(parents=True)
    (app / "app.py").write_text(APP)
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3")  # inside: the image's
    limits = SandboxLimits(memory_bytes=2**28, processes=64, open_files=1024, disk_bytes=2**24)
    return Launch(space_id="alice/demo", uid=200_007, app_dir=app, venv=venv,
                  command=command or ["/opt/venv/bin/python", "app.py"], app_port=7860,
                  env={"GREETING": "hello", "GRADIO_SERVER_PORT": "7860"},
                  run_dir=tmp_path / "7" / "run", hub_address=("127.0.0.1", 1),
                  hub_port_inside=8000, log_path=tmp_path / "7" / "logs" / "run.log",
                  secrets=(), limits=limits)  # fmt: skip


def _runner(cluster: FakeCluster) -> KubeRunner:
    client = kube.client(api_url=cluster.url, kubeconfig=None, namespace=NS)
    setup = KubeSetup(namespace=NS, image="base:1", hub_url="http://hub.test", poll_s=0.1)
    return KubeRunner(KubeSpaces(client), setup)


def test_start_is_ready_at_the_service_and_stop_scales_to_zero(
    cluster: FakeCluster, tmp_path: Path
) -> None:
    async def scenario() -> None:
        runner = _runner(cluster)
        assert await runner.problem() is None
        app = await runner.start(_launch(tmp_path))
        await app.wait_ready("/", timeout=30)
        assert isinstance(app.socket, TcpAddress) and app.socket.host == "127.0.0.1"
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://{app.socket.host}:{app.socket.port}/")
        assert answer.text == "hello /home/user/app"  # its writable copy of the checkout
        assert app.pod == "space-7"
        await app.stop()
        assert await asyncio.wait_for(app.wait(), 5) == 0
        deployment = cluster.objects[(NS, "deployments", "space-7")]
        assert deployment["spec"]["replicas"] == 0 and not cluster.running(NS, "space-7")
        assert (NS, "services", "space-7") in cluster.objects
        await runner.close()

    asyncio.run(scenario())
    methods = [(m, p.rsplit("/", 2)[-2]) for m, p, _ in cluster.calls if m == "PATCH"]
    assert methods == [("PATCH", "deployments"), ("PATCH", "services"), ("PATCH", "deployments")]


def test_an_app_that_never_gets_ready_times_out(cluster: FakeCluster, tmp_path: Path) -> None:
    async def scenario() -> None:
        runner = _runner(cluster)
        app = await runner.start(_launch(tmp_path, ["/opt/venv/bin/python", "-c", "pass"]))
        with pytest.raises(TimeoutError):
            await app.wait_ready("/", timeout=2)
        await app.stop()
        await runner.close()

    asyncio.run(scenario())


def test_a_deployment_removed_by_someone_else_ends_the_app(
    cluster: FakeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kube, "WATCH_EVERY_S", 0.1)

    async def scenario() -> None:
        runner = _runner(cluster)
        app = await runner.start(_launch(tmp_path))
        await app.wait_ready("/", timeout=30)
        cluster.answer("DELETE", f"/apis/apps/v1/namespaces/{NS}/deployments/space-7", None)
        assert await asyncio.wait_for(app.wait(), 5) == -1
        await app.stop()
        gone = await runner.start(_launch(tmp_path / "again"))
        cluster.answer("DELETE", f"/apis/apps/v1/namespaces/{NS}/deployments/space-7", None)
        with pytest.raises(AppExited):  # a start whose Deployment vanished meanwhile
            await gone.wait_ready("/", timeout=30)
        await gone.stop()
        await runner.close()

    asyncio.run(scenario())


def test_an_unreachable_api_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    client = kube.client(api_url="http://127.0.0.1:9", kubeconfig=None, namespace=NS)
    runner = KubeRunner(KubeSpaces(client), KubeSetup(NS, "base:1", "http://hub.test"))
    assert "did not answer" in (asyncio.run(runner.problem()) or "")
