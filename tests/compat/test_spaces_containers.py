"""Spaces under the container runner: podman's Docker-compatible API runs a Gradio app from the
generic base image with the space's venv mounted read-only, reached through the same proxy and
socket bridge as under bubblewrap; slept and woken."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from gradio_client import Client
from huggingface_hub import HfApi

from compat.test_spaces_apps import _commit, _gradio_space, _wait
from support import base_image, create_token, podman_service, run_cli, running_hub, unique

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed"),
]


@pytest.fixture(scope="module")
def container_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A hub whose spaces run in podman containers: (endpoint, alice's token, engine host)."""
    scratch = tmp_path_factory.mktemp("podman")
    data_dir = tmp_path_factory.mktemp("container-hub")
    with podman_service(scratch) as host:
        base_image(data_dir, host)
        assert run_cli(data_dir, "user", "create", "alice", "--password", "pw").returncode == 0
        token = create_token(data_dir, "alice", "write")
        env = {"HUGBOX_SPACES_RUNNER": "container", "HUGBOX_CONTAINER_HOST": host}
        with running_hub(data_dir, env=env) as endpoint:
            yield endpoint, token, host


def _engine(host: str) -> httpx.Client:
    transport = httpx.HTTPTransport(uds=host.removeprefix("unix://"))
    return httpx.Client(transport=transport, base_url="http://engine/v1.41")


def _containers(host: str, repo_id: str) -> list[dict[str, Any]]:
    filters = json.dumps({"label": [f"org.hugbox.space={repo_id}"]})
    with _engine(host) as engine:
        found: list[dict[str, Any]] = engine.get(
            "/containers/json", params={"filters": filters}
        ).json()
    return found


def test_gradio_space_runs_in_a_container(container_hub: tuple[str, str, str]) -> None:
    endpoint, token, host = container_hub
    api = HfApi(endpoint=endpoint, token=token)
    repo_id = _gradio_space(api, env={"GREETING": "Hi"})
    client = Client(api.space_info(repo_id).host, verbose=False)
    assert client.predict("box", api_name="/greet") == "Hi box"
    [container] = _containers(host, repo_id)
    assert container["State"] == "running"
    with _engine(host) as engine:
        inspect = engine.get(f"/containers/{container['Id']}/json")
    config = inspect.json()["HostConfig"]
    assert config["ReadonlyRootfs"] and config["NetworkMode"] == "none"
    assert config["Memory"] > 0 and config["PidsLimit"] == 256
    # The secret reached the app (the log shows it masked) but not the engine's view of it.
    assert "psst-1234" not in inspect.text
    assert "***" in "".join(api.fetch_space_logs(repo_id))


def test_sleep_removes_the_container_and_a_visit_wakes_it(
    container_hub: tuple[str, str, str],
) -> None:
    endpoint, token, host = container_hub
    api = HfApi(endpoint=endpoint, token=token)
    repo_id = _gradio_space(api)
    api.set_space_sleep_time(repo_id, 1)
    _wait(api, repo_id, {"SLEEPING"}, timeout=30)
    assert _containers(host, repo_id) == []
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
    container_hub: tuple[str, str, str],
) -> None:
    endpoint, token, host = container_hub
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
    api.set_space_sleep_time(repo_id, 1)
    _wait(api, repo_id, {"SLEEPING"}, timeout=30)
    assert _containers(host, repo_id) == []
    assert httpx.get(space_host, timeout=120).json()["hub_says"] == repo_id  # woken
    api.pause_space(repo_id)
