"""The Spaces runtime API through huggingface_hub: runtime, secrets, variables, pause, restart,
sleep time, hardware, duplicate, config errors and logs (apps themselves: test_spaces_apps)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import BadRequestError, HfHubHTTPError, RepositoryNotFoundError

from support import Hub, unique


def _space(api: HfApi, hub: Hub, *, sdk: str = "gradio", private: bool = False) -> str:
    repo_id = f"alice/{unique('space')}"
    api.create_repo(repo_id, repo_type="space", space_sdk=sdk, private=private)
    return repo_id


def _wait_stage(api: HfApi, repo_id: str, stages: set[str], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        stage = str(api.get_space_runtime(repo_id).stage)
        if stage in stages or time.monotonic() > deadline:
            return stage
        time.sleep(0.2)


@pytest.fixture
def api(hub: Hub) -> HfApi:
    return HfApi(endpoint=hub.endpoint, token=hub.alice)


def test_new_space_has_no_app_file(api: HfApi, hub: Hub) -> None:
    repo_id = _space(api, hub)
    assert api.get_space_runtime(repo_id).stage == "NO_APP_FILE"
    info = api.space_info(repo_id)
    assert info.sdk == "gradio"
    assert info.host is not None and info.host.endswith(f"/spaces/{repo_id}/")
    assert info.runtime is not None and info.runtime.stage == "NO_APP_FILE"


def test_docker_sdk_is_a_config_error_that_says_why(api: HfApi, hub: Hub) -> None:
    repo_id = _space(api, hub, sdk="docker")
    api.upload_file(path_or_fileobj=b"FROM python:3.11\n", path_in_repo="Dockerfile",
                    repo_id=repo_id, repo_type="space")  # fmt: skip
    assert _wait_stage(api, repo_id, {"CONFIG_ERROR"}) == "CONFIG_ERROR"
    runtime = api.get_space_runtime(repo_id)
    assert "container engine" in runtime.raw["errorMessage"]


def test_static_space_runs_and_is_served(api: HfApi, hub: Hub) -> None:
    repo_id = _space(api, hub, sdk="static")
    api.upload_file(path_or_fileobj=b"<h1>hello static</h1>", path_in_repo="index.html",
                    repo_id=repo_id, repo_type="space")  # fmt: skip
    assert _wait_stage(api, repo_id, {"RUNNING"}) == "RUNNING"
    host = api.space_info(repo_id).host
    assert host is not None
    page = httpx.get(host, timeout=10)
    assert page.status_code == 200 and "hello static" in page.text


def test_secrets_are_write_only_and_variables_readable(api: HfApi, hub: Hub) -> None:
    repo_id = _space(api, hub)
    api.add_space_secret(repo_id, "API_KEY", "s3cr3t-value", description="the key")
    api.add_space_variable(repo_id, "MODEL", "gpt2", description="which model")
    secrets = api.get_space_secrets(repo_id)
    assert set(secrets) == {"API_KEY"} and secrets["API_KEY"].description == "the key"
    raw = httpx.get(f"{hub.endpoint}/api/spaces/{repo_id}/secrets",
                    headers={"authorization": f"Bearer {hub.alice}"}).text  # fmt: skip
    assert "s3cr3t-value" not in raw
    variables = api.get_space_variables(repo_id)
    assert variables["MODEL"].value == "gpt2"
    api.delete_space_secret(repo_id, "API_KEY")
    api.delete_space_variable(repo_id, "MODEL")
    assert api.get_space_secrets(repo_id) == {} and api.get_space_variables(repo_id) == {}


def test_create_repo_takes_secrets_variables_and_sleep_time(api: HfApi, hub: Hub) -> None:
    repo_id = f"alice/{unique('space')}"
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", space_sleep_time=900,
                    space_secrets=[{"key": "TOKEN", "value": "t0k"}],
                    space_variables=[{"key": "MODE", "value": "fast"}])  # fmt: skip
    assert set(api.get_space_secrets(repo_id)) == {"TOKEN"}
    assert api.get_space_variables(repo_id)["MODE"].value == "fast"
    assert api.get_space_runtime(repo_id).sleep_time == 900


def test_bad_keys_are_refused(api: HfApi, hub: Hub) -> None:
    repo_id = _space(api, hub)
    with pytest.raises(BadRequestError, match="Invalid key"):
        api.add_space_secret(repo_id, "1-bad key", "x")
    with pytest.raises(BadRequestError, match="set by the hub"):
        api.add_space_variable(repo_id, "SPACE_ID", "x")


def test_others_cannot_touch_secrets(api: HfApi, hub: Hub) -> None:
    repo_id = _space(api, hub)
    bob = HfApi(endpoint=hub.endpoint, token=hub.bob)
    with pytest.raises(HfHubHTTPError) as caught:
        bob.add_space_secret(repo_id, "STOLEN", "x")
    assert caught.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError):
        bob.get_space_secrets(repo_id)
    private = _space(api, hub, private=True)
    with pytest.raises(RepositoryNotFoundError):
        bob.get_space_runtime(private)


def test_pause_restart_sleep_time_and_hardware(api: HfApi, hub: Hub) -> None:
    repo_id = _space(api, hub)
    assert api.pause_space(repo_id).stage == "PAUSED"
    assert api.get_space_runtime(repo_id).stage == "PAUSED"
    assert api.restart_space(repo_id).stage != "PAUSED"
    assert api.set_space_sleep_time(repo_id, 600).sleep_time == 600
    assert api.get_space_runtime(repo_id).sleep_time == 600
    with pytest.raises(BadRequestError, match="not available on this hub"):
        api.request_space_hardware(repo_id, "t4-small")  # type: ignore[arg-type]
    assert api.request_space_hardware(repo_id, "cpu-upgrade").sleep_time == 600  # type: ignore[arg-type]


def test_static_spaces_cannot_be_restarted(api: HfApi, hub: Hub) -> None:
    repo_id = _space(api, hub, sdk="static")
    with pytest.raises(BadRequestError, match="Static spaces"):
        api.restart_space(repo_id)


def test_duplicate_copies_history_and_variables_not_secrets(api: HfApi, hub: Hub) -> None:
    repo_id = _space(api, hub, sdk="static")
    api.create_commit(repo_id, repo_type="space", commit_message="site", operations=[
        CommitOperationAdd("index.html", b"<p>one</p>"),
        CommitOperationAdd("big.bin", b"\x00" * 20_000_000),
    ])  # fmt: skip
    api.add_space_variable(repo_id, "COLOR", "blue")
    api.add_space_secret(repo_id, "TOKEN", "hidden")
    copy = f"alice/{unique('copy')}"
    url = api.duplicate_repo(repo_id, to_id=copy, repo_type="space", space_secrets=[
        {"key": "NEW_SECRET", "value": "v"}])  # fmt: skip
    assert url.repo_id == copy
    assert api.list_repo_commits(copy, repo_type="space")[0].title == "site"
    assert set(api.list_repo_files(copy, repo_type="space")) >= {"index.html", "big.bin"}
    assert api.get_space_variables(copy)["COLOR"].value == "blue"
    assert set(api.get_space_secrets(copy)) == {"NEW_SECRET"}
    big = Path(api.hf_hub_download(copy, "big.bin", repo_type="space"))
    assert big.read_bytes() == b"\x00" * 20_000_000


def test_duplicate_a_model(api: HfApi, hub: Hub) -> None:
    source = f"alice/{unique('model')}"
    api.create_repo(source)
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=source)
    copy = api.duplicate_repo(source, to_id=f"alice/{unique('model-copy')}")
    assert api.list_repo_files(copy.repo_id) == [".gitattributes", "config.json"]


def test_build_logs_of_a_broken_build(api: HfApi, hub: Hub) -> None:
    repo_id = _space(api, hub)
    api.create_commit(repo_id, repo_type="space", commit_message="app", operations=[
        CommitOperationAdd("app.py", b"print('hi')\n"),
        CommitOperationAdd("requirements.txt", b"this-package-does-not-exist-hugbox==1.0\n"),
    ])  # fmt: skip
    assert _wait_stage(api, repo_id, {"BUILD_ERROR"}, timeout=120) == "BUILD_ERROR"
    logs = "".join(api.fetch_space_logs(repo_id, build=True))
    assert "this-package-does-not-exist-hugbox" in logs
