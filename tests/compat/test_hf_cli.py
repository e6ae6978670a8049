"""The `hf` command line of huggingface_hub 2.4, run as a subprocess against a live hugbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from support import Hub

pytestmark = pytest.mark.compat

HF = Path(sys.executable).with_name("hf")


def hf(hub: Hub, *args: str, token: str | None = None, cwd: Path | None = None) -> Any:
    """Run `hf ARGS --format json` and return its parsed stdout (None when it prints nothing)."""
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.endpoint,
        "HF_TOKEN": token or hub.alice,
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "NO_COLOR": "1",
    }
    result = subprocess.run(
        [str(HF), *args, "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"hf {' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else None


def test_auth_whoami(hub: Hub) -> None:
    info = hf(hub, "auth", "whoami")
    # Other tests may add alice to more orgs of the shared hub.
    assert info["user"] == "alice" and "acme" in info["orgs"].split(",")
    assert info["endpoint"] == hub.endpoint
    assert hf(hub, "auth", "whoami", token=hub.carol)["user"] == "carol"


def test_repos_create(hub: Hub) -> None:
    repo_id = f"alice/cli-{uuid.uuid4().hex[:10]}"
    created = hf(hub, "repos", "create", repo_id, "--private")
    assert created["repo_id"] == repo_id
    assert created["url"] == f"{hub.endpoint}/{repo_id}"
    assert HfApi(endpoint=hub.endpoint, token=hub.alice).model_info(repo_id).private is True
    dataset = hf(hub, "repos", "create", repo_id, "--type", "dataset")
    assert dataset["url"] == f"{hub.endpoint}/datasets/{repo_id}"
    hf(hub, "repos", "create", repo_id, "--exist-ok")


FILES = {
    "README.md": b"---\nlicense: mit\n---\n# CLI upload\n",
    "config.json": b'{"hidden_size": 8}\n',
    "nested/dir/data.txt": b"line\n" * 100,
    "model.safetensors": os.urandom(100_000),
}


def test_upload_folder_then_download(hub: Hub, tmp_path: Path) -> None:
    repo_id = f"alice/cli-{uuid.uuid4().hex[:10]}"
    source = tmp_path / "source"
    for path, data in FILES.items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_bytes(data)
    # `hf upload` creates the repo itself (exist_ok).
    hf(hub, "upload", repo_id, str(source), ".", "--commit-message", "from the cli")
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    assert sorted(api.list_repo_files(repo_id)) == sorted([".gitattributes", *FILES])
    assert api.list_repo_commits(repo_id)[0].title == "from the cli"
    siblings = {s.rfilename: s for s in api.model_info(repo_id, files_metadata=True).siblings or []}
    assert siblings["model.safetensors"].lfs is not None
    assert api.model_info(repo_id).card_data is not None
    assert api.model_info(repo_id).card_data["license"] == "mit"

    target = tmp_path / "target"
    hf(hub, "download", repo_id, "--local-dir", str(target))
    for path, data in FILES.items():
        assert (target / path).read_bytes() == data
    single = tmp_path / "single"
    hf(hub, "download", repo_id, "nested/dir/data.txt", "--local-dir", str(single))
    assert (single / "nested/dir/data.txt").read_bytes() == FILES["nested/dir/data.txt"]


def hf_refused(hub: Hub, *args: str) -> str:
    """Run a `hf` command that must fail; returns what it printed."""
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": hub.alice, "NO_COLOR": "1"}
    result = subprocess.run(
        [str(HF), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode != 0, f"hf {' '.join(args)} succeeded\n{result.stdout}"
    return result.stdout + result.stderr


def test_repos_list(hub: Hub) -> None:
    name = f"cli-ls-{uuid.uuid4().hex[:10]}"
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    api.create_repo(f"alice/{name}", private=True)
    api.create_repo(f"alice/{name}", repo_type="dataset")
    api.create_repo(f"acme/{name}", repo_type="space", space_sdk="static")
    listed = hf(hub, "repos", "list", "--search", name, "--limit", "0")
    assert {(r["id"], r["type"], r["visibility"]) for r in listed} == {
        (f"alice/{name}", "model", "private"),
        (f"alice/{name}", "dataset", "public"),
    }
    datasets = hf(hub, "repos", "list", "--search", name, "--type", "dataset")
    assert [r["type"] for r in datasets] == ["dataset"]
    in_org = hf(hub, "repos", "list", "--namespace", "acme", "--search", name, token=hub.bob)
    assert [(r["id"], r["type"]) for r in in_org] == [(f"acme/{name}", "space")]


def test_list_user_repos_is_for_members(hub: Hub) -> None:
    org = f"org-{uuid.uuid4().hex[:8]}"
    assert hub.cli("org", "create", org, "--owner", "carol").returncode == 0
    HfApi(endpoint=hub.endpoint, token=hub.carol).create_repo(f"{org}/secret", private=True)
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    with pytest.raises(HfHubHTTPError) as refused:
        list(api.list_user_repos(namespace=org))
    assert refused.value.response.status_code == 403
    carol = HfApi(endpoint=hub.endpoint, token=hub.carol)
    assert [r.id for r in carol.list_user_repos(namespace=org)] == [f"{org}/secret"]
    with pytest.raises(HfHubHTTPError) as anonymous:
        list(HfApi(endpoint=hub.endpoint, token=False).list_user_repos())
    assert anonymous.value.response.status_code == 401


def test_spaces_hardware(hub: Hub) -> None:
    flavors = hf(hub, "spaces", "hardware")
    assert [f["name"] for f in flavors] == ["cpu-upgrade"]


@pytest.mark.parametrize(
    "command",
    [("jobs", "ps"), ("jobs", "hardware"), ("jobs", "scheduled", "ps"), ("buckets", "list"),
     ("papers", "list"), ("papers", "search", "attention")],
)  # fmt: skip
def test_cloud_only_commands_say_so(hub: Hub, command: tuple[str, ...]) -> None:
    assert "huggingface.co cloud service" in hf_refused(hub, *command)
