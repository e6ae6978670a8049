"""Real apps built and run from space repos: Gradio through gradio_client, Streamlit and static
through the proxy, secrets, crashes, restarts after a commit, sleep and wake, private spaces and
deletion. Builds use the shared wheel cache (HUGBOX_SPACES_UV_CACHE)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from huggingface_hub import CommitOperationAdd, HfApi

from support import Hub, create_token, run_cli, running_hub, unique

GRADIO_APP = b"""
import os
import gradio as gr

print("starting with", os.environ.get("GREETING_SECRET", "no secret"), flush=True)

def greet(name):
    return os.environ.get("GREETING", "Hello") + " " + name

def secret(_):
    return os.environ.get("GREETING_SECRET", "")

with gr.Blocks() as demo:
    box = gr.Textbox()
    out = gr.Textbox()
    box.submit(greet, box, out, api_name="greet")
    box.change(secret, box, out, api_name="secret")

demo.launch()
"""
README = "---\ntitle: {title}\nsdk: {sdk}\napp_file: app.py\n---\n# {title}\n"


def _commit(api: HfApi, repo_id: str, files: dict[str, bytes], message: str = "app") -> None:
    operations = [CommitOperationAdd(path, data) for path, data in files.items()]
    api.create_commit(repo_id, repo_type="space", operations=operations, commit_message=message)


def _wait(api: HfApi, repo_id: str, want: set[str], timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    stage = ""
    while time.monotonic() < deadline:
        stage = str(api.get_space_runtime(repo_id).stage)
        if stage in want:
            return stage
        if stage.endswith("_ERROR") and not any(w.endswith("_ERROR") for w in want):
            logs = "".join(api.fetch_space_logs(repo_id, build=stage == "BUILD_ERROR"))
            raise AssertionError(f"{repo_id} is {stage}:\n{logs[-3000:]}")
        time.sleep(0.5)
    raise AssertionError(f"{repo_id} still {stage} after {timeout} s")


def _gradio_space(api: HfApi, *, private: bool = False, env: dict[str, str] | None = None) -> str:
    repo_id = f"alice/{unique('gradio')}"
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private)
    for key, value in (env or {}).items():
        api.add_space_variable(repo_id, key, value)
    api.add_space_secret(repo_id, "GREETING_SECRET", "psst-1234")
    _commit(api, repo_id, {"README.md": README.format(title="Greeter", sdk="gradio").encode(),
                           "app.py": GRADIO_APP})  # fmt: skip
    _wait(api, repo_id, {"RUNNING"})
    return repo_id


@pytest.fixture(scope="module")
def api(hub: Hub) -> HfApi:
    return HfApi(endpoint=hub.endpoint, token=hub.alice)


@pytest.fixture(scope="module")
def greeter(api: HfApi) -> str:
    return _gradio_space(api, env={"GREETING": "Hello"})


def test_gradio_client_calls_the_space(greeter: str, hub: Hub) -> None:
    client = Client(greeter, token=hub.alice, verbose=False)
    assert client.predict("world", api_name="/greet") == "Hello world"


def test_secrets_reach_the_app_but_never_the_api_or_logs(greeter: str, api: HfApi) -> None:
    client = Client(greeter, verbose=False)
    assert client.predict("x", api_name="/secret") == "psst-1234"
    assert "psst-1234" not in str(api.get_space_secrets(greeter))
    logs = "".join(api.fetch_space_logs(greeter))
    assert "starting with ***" in logs and "psst-1234" not in logs


def test_a_commit_rebuilds_and_restarts(api: HfApi, hub: Hub) -> None:
    repo_id = _gradio_space(api)
    _commit(api, repo_id, {"app.py": GRADIO_APP.replace(b'"Hello"', b'"Howdy"')}, "howdy")
    _wait(api, repo_id, {"RUNNING_BUILDING", "BUILDING", "APP_STARTING"}, timeout=30)
    _wait(api, repo_id, {"RUNNING"})
    assert Client(repo_id, verbose=False).predict("you", api_name="/greet") == "Howdy you"


def test_a_failed_build_leaves_the_previous_version_serving(api: HfApi) -> None:
    repo_id = _gradio_space(api)
    broken = b"hugbox-no-such-package-anywhere==9.9\n"
    _commit(api, repo_id, {"requirements.txt": broken}, "break the build")
    _wait(api, repo_id, {"BUILD_ERROR"})
    assert "hugbox-no-such-package-anywhere" in "".join(api.fetch_space_logs(repo_id, build=True))
    host = api.space_info(repo_id).host
    assert httpx.get(f"{host}gradio_api/info", timeout=30).status_code == 200  # still up
    api.set_space_sleep_time(repo_id, 600)  # another wish does not retry the failed build
    time.sleep(1.5)
    assert api.get_space_runtime(repo_id).stage == "BUILD_ERROR"


def test_a_crashing_app_is_a_runtime_error_with_its_log(api: HfApi) -> None:
    repo_id = f"alice/{unique('crash')}"
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio")
    _commit(api, repo_id, {"app.py": b"import gradio\nraise SystemExit('broken on purpose')\n"})
    _wait(api, repo_id, {"RUNTIME_ERROR"})
    assert "broken on purpose" in "".join(api.fetch_space_logs(repo_id))
    assert "exited" in api.get_space_runtime(repo_id).raw["errorMessage"]


def test_sleep_then_wake_on_the_next_request(api: HfApi, greeter: str) -> None:
    repo_id = _gradio_space(api)
    api.set_space_sleep_time(repo_id, 1)
    _wait(api, repo_id, {"SLEEPING"}, timeout=30)
    host = api.space_info(repo_id).host
    assert host is not None
    page = httpx.get(host, headers={"accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and "waking" in page.text.lower()
    _wait(api, repo_id, {"RUNNING"}, timeout=60)
    api.set_space_sleep_time(repo_id, 3600)
    assert Client(repo_id, verbose=False).predict("again", api_name="/greet") == "Hello again"


def test_a_private_space_needs_a_token(api: HfApi, hub: Hub) -> None:
    repo_id = _gradio_space(api, private=True)
    assert Client(repo_id, token=hub.alice, verbose=False).predict("me", api_name="/greet")
    host = api.space_info(repo_id).host
    assert host is not None
    assert httpx.get(f"{host}config").status_code in (401, 404)
    bob = httpx.get(f"{host}config", headers={"authorization": f"Bearer {hub.bob}"})
    assert bob.status_code == 404


def test_streamlit_space_serves_under_its_prefix(api: HfApi) -> None:
    repo_id = f"alice/{unique('streamlit')}"
    api.create_repo(repo_id, repo_type="space", space_sdk="streamlit")
    app = b"import streamlit as st\nst.title('Charts here')\nst.bar_chart([1, 3, 2])\n"
    _commit(api, repo_id, {"README.md": README.format(title="St", sdk="streamlit").encode(),
                           "app.py": app})  # fmt: skip
    _wait(api, repo_id, {"RUNNING"})
    host = api.space_info(repo_id).host
    assert host is not None
    assert httpx.get(f"{host}_stcore/health", timeout=10).text == "ok"


def test_deleting_a_space_stops_its_app(api: HfApi, hub: Hub) -> None:
    repo_id = _gradio_space(api)
    pk = _pk_of(hub, repo_id)
    assert _processes_of(200_000 + pk), "the app should run as its own uid"
    api.delete_repo(repo_id, repo_type="space")
    deadline = time.monotonic() + 20
    while _processes_of(200_000 + pk) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _processes_of(200_000 + pk)
    assert not (hub.data_dir / "spaces" / str(pk)).exists()


def test_past_the_cap_the_least_recently_used_app_sleeps(tmp_path: Path) -> None:
    data_dir = tmp_path / "capped-hub"
    data_dir.mkdir()
    assert run_cli(data_dir, "user", "create", "alice", "--password", "pw").returncode == 0
    token = create_token(data_dir, "alice", "write")
    with running_hub(data_dir, env={"HUGBOX_SPACES_MAX_RUNNING": "1"}) as endpoint:
        api = HfApi(endpoint=endpoint, token=token)
        first = _gradio_space(api)
        second = _gradio_space(api)
        assert api.get_space_runtime(first).stage == "SLEEPING"
        host = api.space_info(first).host
        assert httpx.get(f"{host}gradio_api/info", timeout=120).status_code == 200  # wakes it
        assert api.get_space_runtime(first).stage == "RUNNING"
        assert api.get_space_runtime(second).stage == "SLEEPING"


def _pk_of(hub: Hub, repo_id: str) -> int:
    info = httpx.get(f"{hub.endpoint}/api/spaces/{repo_id}",
                     headers={"authorization": f"Bearer {hub.alice}"}).json()  # fmt: skip
    return int(info["_id"].removeprefix("space-"))


def _processes_of(uid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "status").read_text().find(f"\nUid:\t{uid}\t") >= 0:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
