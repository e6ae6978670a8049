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
