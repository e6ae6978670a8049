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

from compat.test_spaces_apps import _gradio_space, _wait
from support import base_image, create_token, podman_service, run_cli, running_hub

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
