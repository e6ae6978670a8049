"""Spaces under the container runner: podman's Docker-compatible API runs a Gradio app from the
generic base image with the space's venv mounted read-only, and an `sdk: docker` space from its
own Dockerfile, each reached through the same proxy and socket bridge as under bubblewrap, slept
and woken; the same space's Kubernetes manifests run for real under `podman kube play`."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import kubernetes_validate
import pytest
import yaml
from gradio_client import Client
from huggingface_hub import HfApi

from compat.test_spaces_apps import _commit, _gradio_space, _wait
from hugbox.spaces.config import SdkDefaults, read_config
from hugbox.spaces.files import FIRST_APP_UID
from hugbox.spaces.host import launch
from hugbox.spaces.host.containers import HUB_LABEL, SPACE_LABEL, hub_tag
from hugbox.spaces.host.manifests import KubeSpace, manifests, name_of
from hugbox.spaces.host.runner import Launch
from hugbox.spaces.host.sandbox import SandboxLimits
from support import base_image, create_token, podman_service, run_cli, running_hub, unique


class ContainerHub(NamedTuple):
    endpoint: str
    token: str
    host: str  # the engine's API
    data_dir: Path
    containers_conf: Path  # podman's, for the CLI


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed"),
]


@pytest.fixture(scope="module")
def container_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerHub]:
    """A hub whose spaces run in podman containers."""
    scratch = tmp_path_factory.mktemp("podman")
    data_dir = tmp_path_factory.mktemp("container-hub")
    with podman_service(scratch) as host:
        base_image(data_dir, host)
        assert run_cli(data_dir, "user", "create", "alice", "--password", "pw").returncode == 0
        token = create_token(data_dir, "alice", "write")
        env = {"HUGBOX_SPACES_RUNNER": "container", "HUGBOX_CONTAINER_HOST": host}
        with running_hub(data_dir, env=env) as endpoint:
            yield ContainerHub(endpoint, token, host, data_dir, scratch / "containers.conf")
        # Its spaces host stops and removes its apps' containers on the way out.
        _until_gone(host, f"{HUB_LABEL}={hub_tag(data_dir / 'spaces')}")


def _engine(host: str) -> httpx.Client:
    transport = httpx.HTTPTransport(uds=host.removeprefix("unix://"))
    return httpx.Client(transport=transport, base_url="http://engine/v1.41")


def _containers(host: str, repo_id: str, label: str = SPACE_LABEL) -> list[dict[str, Any]]:
    filters = json.dumps({"label": [f"{label}={repo_id}"]})
    with _engine(host) as engine:
        found: list[dict[str, Any]] = engine.get(
            "/containers/json", params={"filters": filters, "all": "true"}
        ).json()
    return found


def _space_run(hub: ContainerHub, repo_id: str) -> dict[str, Any]:
    """The space's row in space_runs, read from the hub's own SQLite database."""
    with sqlite3.connect(hub.data_dir / "hugbox.db") as db:
        db.row_factory = sqlite3.Row
        row = db.execute(
            "SELECT space_runs.* FROM space_runs JOIN repos ON repos.id = space_runs.repo_pk "
            "WHERE repos.namespace || '/' || repos.name = ?",
            (repo_id,),
        ).fetchone()
    assert row is not None, f"no space_runs row for {repo_id}"
    return dict(row)


def _image(hub: ContainerHub, repo_id: str) -> str:
    """The image the hub names for the space's head commit."""
    info = httpx.get(f"{hub.endpoint}/api/spaces/{repo_id}",
                     headers={"authorization": f"Bearer {hub.token}"}).json()  # fmt: skip
    pk = int(info["_id"].removeprefix("space-"))
    return f"localhost/hugbox-space-{hub_tag(hub.data_dir / 'spaces')}-{pk}:{info['sha'][:12]}"


def _image_exists(host: str, image: str) -> bool:
    with _engine(host) as engine:
        return engine.get(f"/images/{image}/json").status_code == 200


def _until_gone(host: str, label: str, timeout: float = 30) -> None:
    key, _, value = label.partition("=")
    deadline = time.monotonic() + timeout
    while left := _containers(host, value, key):
        assert time.monotonic() < deadline, f"containers left behind: {left}"
        time.sleep(0.2)


def test_gradio_space_runs_in_a_container(container_hub: ContainerHub) -> None:
    endpoint, token, host, _, _ = container_hub
    api = HfApi(endpoint=endpoint, token=token)
    repo_id = _gradio_space(api, env={"GREETING": "Hi"})
    client = Client(api.space_info(repo_id).host, verbose=False)
    assert client.predict("box", api_name="/greet") == "Hi box"
    [container] = _containers(host, repo_id)
    assert container["State"] == "running"
    # Where it runs is in the database, not only in the spaces host's memory.
    run = _space_run(container_hub, repo_id)
    assert (run["runner"], run["state"]) == ("container", "running")
    assert "/" + run["pod"] in container["Names"]
    with _engine(host) as engine:
        inspect = engine.get(f"/containers/{container['Id']}/json")
    config = inspect.json()["HostConfig"]
    assert config["ReadonlyRootfs"] and config["NetworkMode"] == "none"
    assert config["Memory"] > 0 and config["PidsLimit"] == 256 and config["CpuShares"] == 110
    # The secret reached the app (the log shows it masked) but not the engine's view of it.
    assert "psst-1234" not in inspect.text
    assert "***" in "".join(api.fetch_space_logs(repo_id))


def test_sleep_removes_the_container_and_a_visit_wakes_it(
    container_hub: ContainerHub,
) -> None:
    endpoint, token, host, _, _ = container_hub
    api = HfApi(endpoint=endpoint, token=token)
    repo_id = _gradio_space(api)
    api.set_space_sleep_time(repo_id, 1)
    _wait(api, repo_id, {"SLEEPING"}, timeout=30)
    assert _containers(host, repo_id) == []
    assert _space_run(container_hub, repo_id)["state"] == "stopped"
    space_host = api.space_info(repo_id).host
    assert space_host is not None
    assert httpx.get(f"{space_host}gradio_api/info", timeout=120).status_code == 200  # wakes it
    api.set_space_sleep_time(repo_id, 3600)
    assert Client(space_host, verbose=False).predict("again", api_name="/greet") == "Hello again"
    assert len(_containers(host, repo_id)) == 1


DOCKER_APP = b"""
import json, os, urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import six  # installed by the Dockerfile from PyPI, through the host's CA bundle


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        hub = os.environ["HF_ENDPOINT"] + "/api/spaces/" + os.environ["SPACE_ID"]
        with urllib.request.urlopen(hub) as answer:
            space = json.load(answer)["id"]
        body = json.dumps({"path": self.path, "six": six.__version__, "hub_says": space,
                           "uid": os.getuid()}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)


print("listening on 8080", flush=True)
HTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""
DOCKERFILE = b"""FROM localhost/hugbox-debian-py:bookworm
RUN python3 -m venv /opt/env && /opt/env/bin/pip install --no-cache-dir \\
    --index-url https://pypi.org/simple six==1.17.0
RUN useradd -m -u 1000 user
USER user
WORKDIR /home/user/app
COPY --chown=user app.py .
CMD ["/opt/env/bin/python", "app.py"]
"""


def test_a_docker_space_builds_its_dockerfile_and_runs_behind_the_bridge(
    container_hub: ContainerHub,
) -> None:
    endpoint, token, host, _, _ = container_hub
    api = HfApi(endpoint=endpoint, token=token)
    repo_id = f"alice/{unique('docker')}"
    api.create_repo(repo_id, repo_type="space", space_sdk="docker")
    readme = b"---\ntitle: Box\nsdk: docker\napp_port: 8080\n---\n"
    _commit(api, repo_id, {"README.md": readme, "Dockerfile": DOCKERFILE, "app.py": DOCKER_APP})
    _wait(api, repo_id, {"RUNNING"}, timeout=300)
    space_host = api.space_info(repo_id).host
    assert space_host is not None
    answer = httpx.get(f"{space_host}hello?x=1", timeout=30).json()
    assert answer == {"path": "/hello?x=1", "six": "1.17.0", "hub_says": repo_id, "uid": 1000}
    assert "listening on 8080" in "".join(api.fetch_space_logs(repo_id))
    assert "six" in "".join(api.fetch_space_logs(repo_id, build=True))
    first = _image(container_hub, repo_id)
    assert _image_exists(host, first)
    # A new commit builds a new image (named per hub, space and commit); the old one goes.
    _commit(api, repo_id, {"app.py": DOCKER_APP.replace(b"listening on", b"now on")})
    deadline = time.monotonic() + 300
    while _image(container_hub, repo_id) == first or "now on" not in "".join(
        api.fetch_space_logs(repo_id)
    ):
        assert time.monotonic() < deadline, api.get_space_runtime(repo_id).raw
        time.sleep(0.5)
    assert _image_exists(host, _image(container_hub, repo_id))
    deadline = time.monotonic() + 30  # removed once the old app has stopped
    while _image_exists(host, first):
        assert time.monotonic() < deadline, f"{first} is still there"
        time.sleep(0.5)
    api.set_space_sleep_time(repo_id, 1)
    _wait(api, repo_id, {"SLEEPING"}, timeout=30)
    assert _containers(host, repo_id) == []
    assert httpx.get(space_host, timeout=120).json()["hub_says"] == repo_id  # woken
    api.pause_space(repo_id)


def _kube_space(hub: ContainerHub, repo_id: str) -> KubeSpace:
    """The manifests of a space this hub built: its checkout and venv, as a node would see them
    on the shared spaces volume."""
    info = httpx.get(f"{hub.endpoint}/api/spaces/{repo_id}",
                     headers={"authorization": f"Bearer {hub.token}"}).json()  # fmt: skip
    pk = int(info["_id"].removeprefix("space-"))
    spaces = hub.data_dir / "spaces"
    app_dir = next((spaces / str(pk) / "builds").iterdir()) / "app"
    [venv] = [p for p in (spaces / "venvs").iterdir() if (p / ".hugbox-ready").exists()]
    config = read_config({"sdk": "gradio"}, {"app.py"}, sdk=None,
                         defaults=SdkDefaults(gradio="6.31.0", streamlit="1.67.0"))  # fmt: skip
    identity = launch.Identity(repo_id, "Greeter", None, "http://spaces.test")
    env = launch.environment(config, identity, user_env={"GREETING": "Kube"}, memory=2**30)
    limits = SandboxLimits(memory_bytes=2**30, processes=256, open_files=1024, disk_bytes=2**28)
    run = Launch(space_id=repo_id, uid=FIRST_APP_UID + pk, app_dir=app_dir, venv=venv,
                 command=launch.command_for(config)[0], app_port=7860, env=env,
                 run_dir=spaces / str(pk) / "run", hub_address=("127.0.0.1", 1),
                 hub_port_inside=8000, log_path=spaces / "kube.log", secrets=(),
                 limits=limits)  # fmt: skip
    return KubeSpace(name=name_of(pk), launch=run, image="localhost/hugbox-debian-py:bookworm",
                     probe_path="/", hub_url=hub.endpoint)  # fmt: skip


def _podman(hub: ContainerHub, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": str(hub.containers_conf)}
    return subprocess.run(["podman", *args], capture_output=True, text=True, env=env,
                          check=False, timeout=120)  # fmt: skip


def test_the_same_space_runs_from_its_manifests_under_podman_kube_play(
    container_hub: ContainerHub, tmp_path: Path
) -> None:
    api = HfApi(endpoint=container_hub.endpoint, token=container_hub.token)
    repo_id = _gradio_space(api)
    space = _kube_space(container_hub, repo_id)
    documents = manifests(space)
    for document in documents:
        kubernetes_validate.validate(document, "1.32", strict=True)
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    played = _podman(container_hub, "kube", "play", str(path))
    assert played.returncode == 0, played.stderr
    try:
        names = _podman(container_hub, "ps", "--format", "{{.Names}}").stdout.split()
        [container] = [n for n in names if n.startswith(space.name) and n.endswith("-app")]
        probe = (
            "import urllib.request as u; print(u.urlopen('http://127.0.0.1:7860/config').status)"
        )
        deadline = time.monotonic() + 120
        while (answer := _podman(container_hub, "exec", container, "/opt/venv/bin/python", "-c",
                                 probe)).stdout.strip() != "200":  # fmt: skip
            assert time.monotonic() < deadline, answer.stderr + _podman(
                container_hub, "logs", container).stdout  # fmt: skip
            time.sleep(0.5)
        inspect = json.loads(_podman(container_hub, "inspect", container).stdout)[0]
        assert inspect["HostConfig"]["ReadonlyRootfs"]
        assert inspect["Config"]["User"].startswith(str(space.launch.uid))
        assert inspect["HostConfig"]["Memory"] == 2**30 + 2 * 2**28
    finally:
        down = _podman(container_hub, "kube", "down", str(path))
    assert down.returncode == 0, down.stderr
