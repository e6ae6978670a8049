"""The operator commands (`hugbox import`, `user`, `token`) against a live hub's data dir."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import RepositoryNotFoundError

from support import Hub, add_legacy_alias, running_hub, unique

pytestmark = pytest.mark.compat

BIG = 11 * 1024 * 1024  # over the 10 MB line where any file becomes LFS


def _folder(root: Path) -> Path:
    folder = root / "model"
    (folder / "nested").mkdir(parents=True)
    (folder / "config.json").write_text('{"architectures": ["GPT2LMHeadModel"]}')
    (folder / "nested" / "notes.md").write_text("# notes\n")
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 64)
    (folder / "big.txt").write_bytes(b"a" * BIG)
    return folder


def test_import_folder_then_download_with_the_client(hub: Hub, tmp_path: Path) -> None:
    repo_id = f"acme/imported-{uuid.uuid4().hex[:8]}"
    result = hub.cli("import", str(_folder(tmp_path)), repo_id)
    assert result.returncode == 0, result.stderr
    commit = result.stdout.strip().splitlines()[-1]
    api = HfApi(token=hub.alice)
    info = api.model_info(repo_id, files_metadata=True)
    assert info.sha == commit
    assert info.pipeline_tag == "text-generation" and info.library_name == "transformers"
    lfs = {s.rfilename for s in info.siblings or [] if s.lfs}
    assert lfs == {"model.safetensors", "big.txt"}
    attributes = Path(hf_hub_download(repo_id, ".gitattributes")).read_text()
    assert "big.txt filter=lfs diff=lfs merge=lfs -text" in attributes
    for name in ("big.txt", "nested/notes.md", "model.safetensors"):
        downloaded = Path(hf_hub_download(repo_id, name, token=hub.alice)).read_bytes()
        assert downloaded == (tmp_path / "model" / name).read_bytes()
    assert next(c.authors for c in api.list_repo_commits(repo_id)) == ["alice"]


def test_import_private_hides_the_repo(hub: Hub, tmp_path: Path) -> None:
    repo_id = f"alice/private-import-{uuid.uuid4().hex[:8]}"
    assert hub.cli("import", str(_folder(tmp_path)), repo_id, "--private").returncode == 0
    with pytest.raises(RepositoryNotFoundError):
        HfApi().model_info(repo_id, token=False)
    assert HfApi(token=hub.alice).model_info(repo_id).private is True


def test_import_into_unknown_namespace_says_what_to_do(hub: Hub, tmp_path: Path) -> None:
    result = hub.cli("import", str(_folder(tmp_path)), "nobody-here/x")
    assert result.returncode == 1
    assert "hugbox org create nobody-here" in result.stderr


def test_import_of_a_dataset(hub: Hub, tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "train.csv").write_text("text,label\nhi,1\n")
    repo_id = f"alice/ds-{uuid.uuid4().hex[:8]}"
    assert hub.cli("import", str(folder), repo_id, "--repo-type", "dataset").returncode == 0
    files = HfApi(token=hub.alice).list_repo_files(repo_id, repo_type="dataset")
    assert sorted(files) == [".gitattributes", "train.csv"]


def test_migrations_stay_quiet_when_the_cli_logs_at_info(tmp_path: Path) -> None:
    """`hugbox demo` logs at INFO, and its first step migrates a fresh data dir: Alembic's
    plugin setup and dialect lines must not reach the newcomer's console."""
    at_info = (
        "import logging; logging.basicConfig(level=logging.INFO); import hugbox.cli as c; c.app()"
    )
    result = subprocess.run(
        [sys.executable, "-c", at_info, "user", "create", "newcomer", "--password", "pw-new-1",
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Created user newcomer" in result.stderr
    assert "alembic" not in result.stderr.lower()


def test_duplicate_user_is_refused(hub: Hub) -> None:
    result = hub.cli("user", "create", "alice", "--password", "x")
    assert result.returncode == 1
    assert "already taken" in result.stderr


def test_token_is_alone_on_the_last_stdout_line(hub: Hub) -> None:
    result = hub.cli("token", "create", "bob", "--role", "read")
    assert result.returncode == 0
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("hf_") and len(token) == 37
    whoami = httpx.get(
        f"{hub.endpoint}/api/whoami-v2", headers={"authorization": f"Bearer {token}"}
    )
    assert whoami.json()["auth"]["accessToken"]["role"] == "read"
    assert whoami.json()["name"] == "bob"


def test_account_names_cannot_shadow_legacy_ids(hub: Hub, tmp_path: Path) -> None:
    repo_id = f"acme/{unique('legacy')}"
    assert hub.cli("import", str(_folder(tmp_path)), repo_id).returncode == 0
    alias = unique("alias")
    add_legacy_alias(hub.data_dir, repo_id, alias)
    result = hub.cli("user", "create", alias, "--password", "x")
    assert result.returncode == 1
    assert "legacy repo id" in result.stderr


def test_serve_with_several_workers_shares_one_data_dir(hub: Hub, tmp_path: Path) -> None:
    with running_hub(hub.data_dir, workers=2, log_path=tmp_path / "workers.log") as endpoint:
        api = HfApi(endpoint=endpoint, token=hub.alice)
        repo_id = api.create_repo(f"alice/{unique('workers')}").repo_id
        for index in range(6):  # requests land on both workers; each commit sees the last
            api.upload_file(
                path_or_fileobj=f"{index}".encode(), path_in_repo="n.txt", repo_id=repo_id
            )
        commits = api.list_repo_commits(repo_id)
        assert len(commits) == 7
        url = f"{endpoint}/{repo_id}/resolve/main/n.txt"
        assert httpx.get(url, headers={"authorization": f"Bearer {hub.alice}"}).text == "5"


def test_clients_see_imported_large_files_as_unchanged(hub: Hub, tmp_path: Path) -> None:
    repo_id = f"alice/{unique('reimport')}"
    folder = _folder(tmp_path)
    assert hub.cli("import", str(folder), repo_id).returncode == 0
    api = HfApi(token=hub.alice)
    head = api.model_info(repo_id).sha
    api.upload_folder(folder_path=folder, repo_id=repo_id)  # same content: nothing to commit
    assert api.model_info(repo_id).sha == head
