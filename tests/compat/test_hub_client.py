"""huggingface_hub 2.4 against a live hugbox: repos, uploads, downloads, commits, refs, listings."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import httpx
import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationCopy,
    CommitOperationDelete,
    HfApi,
    HfFileSystem,
    RepoUrl,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    snapshot_download,
)
from huggingface_hub.errors import (
    BadRequestError,
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile, RepoFolder

from support import Hub, unique

pytestmark = pytest.mark.compat


def git_sha1(data: bytes) -> str:
    """The git blob id of `data`: what HF calls the oid / ETag of a regular file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def api(hub: Hub) -> HfApi:
    return HfApi(endpoint=hub.endpoint, token=hub.alice)


@pytest.fixture
def repo_id(api: HfApi) -> str:
    return api.create_repo(f"alice/{unique()}").repo_id


# A small tree covering the cases the server treats differently: regular files at several
# depths, LFS by .gitattributes (.bin, .safetensors) and an empty .pkl, which stays regular.
FILES: dict[str, bytes] = {
    "config.json": b'{"model_type": "gpt2"}\n',
    "sub/deep/notes.txt": b"nested notes\n" * 10,
    "weights/model.safetensors": os.urandom(200_000),
    "pytorch_model.bin": os.urandom(50_000),
    "empty.pkl": b"",
}
LFS_FILES = {"weights/model.safetensors", "pytorch_model.bin"}


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


@pytest.fixture
def filled_repo(api: HfApi, repo_id: str, tmp_path: Path) -> str:
    api.upload_folder(
        folder_path=write_tree(tmp_path / "upload", FILES),
        repo_id=repo_id,
        commit_message="add files",
    )
    return repo_id


# --- accounts and repo lifecycle -----------------------------------------------------------


def test_whoami_names_user_orgs_and_token_role(hub: Hub) -> None:
    alice = HfApi(endpoint=hub.endpoint, token=hub.alice).whoami()
    assert alice["name"] == "alice"
    # Other tests may add alice and bob to more orgs of the shared hub.
    assert ("acme", "admin") in [(o["name"], o["roleInOrg"]) for o in alice["orgs"]]
    assert alice["auth"]["accessToken"]["role"] == "write"
    bob = HfApi(endpoint=hub.endpoint, token=hub.bob).whoami()
    assert ("acme", "read") in [(o["name"], o["roleInOrg"]) for o in bob["orgs"]]
    read = HfApi(endpoint=hub.endpoint, token=hub.alice_read).whoami()
    assert (read["name"], read["auth"]["accessToken"]["role"]) == ("alice", "read")


def test_create_repo_returns_parsed_url_and_exist_ok_swallows_409(hub: Hub, api: HfApi) -> None:
    repo_id = f"alice/{unique()}"
    url = api.create_repo(repo_id)
    assert isinstance(url, RepoUrl)
    assert (url.repo_id, url.repo_type, url.endpoint) == (repo_id, "model", hub.endpoint)
    assert str(url) == f"{hub.endpoint}/{repo_id}"
    with pytest.raises(HfHubHTTPError) as error:
        api.create_repo(repo_id)
    assert error.value.response.status_code == 409
    assert api.create_repo(repo_id, exist_ok=True).repo_id == repo_id
    dataset = api.create_repo(f"alice/{unique()}", repo_type="dataset")
    assert dataset.repo_type == "dataset"
    assert str(dataset).startswith(f"{hub.endpoint}/datasets/alice/")


def test_create_repo_in_another_users_namespace_is_forbidden(api: HfApi) -> None:
    with pytest.raises(HfHubHTTPError) as error:
        api.create_repo(f"bob/{unique()}")
    assert error.value.response.status_code == 403
    # exist_ok turns the 403 into a repo_info probe, which finds nothing: the 403 stands.
    with pytest.raises(HfHubHTTPError) as error:
        api.create_repo(f"bob/{unique()}", exist_ok=True)
    assert error.value.response.status_code == 403


def test_org_members_create_by_role(hub: Hub) -> None:
    carol = HfApi(endpoint=hub.endpoint, token=hub.carol)
    repo_id = f"acme/{unique()}"
    assert carol.create_repo(repo_id).repo_id == repo_id
    assert carol.model_info(repo_id).author == "acme"
    bob = HfApi(endpoint=hub.endpoint, token=hub.bob)
    with pytest.raises(HfHubHTTPError) as error:
        bob.create_repo(f"acme/{unique()}")
    assert error.value.response.status_code == 403
    # bob's read membership lets him see the org's private repos, not write to them.
    private_id = carol.create_repo(f"acme/{unique()}", private=True).repo_id
    assert bob.model_info(private_id).private is True
    with pytest.raises(HfHubHTTPError) as error:
        bob.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=private_id)
    assert error.value.response.status_code == 403


def test_delete_repo_and_missing_ok(api: HfApi, repo_id: str) -> None:
    assert api.repo_exists(repo_id)
    api.delete_repo(repo_id)
    assert not api.repo_exists(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo(repo_id)
    api.delete_repo(repo_id, missing_ok=True)


@pytest.mark.parametrize("private", [False, True])
def test_moved_repo_still_downloads_by_old_id(api: HfApi, tmp_path: Path, private: bool) -> None:
    old_id = api.create_repo(f"alice/{unique('old')}", private=private).repo_id
    api.upload_file(path_or_fileobj=b"hello", path_in_repo="hello.txt", repo_id=old_id)
    new_id = f"alice/{unique('new')}"
    api.move_repo(from_id=old_id, to_id=new_id)
    assert api.model_info(new_id).id == new_id
    path = hf_hub_download(old_id, "hello.txt", cache_dir=tmp_path, token=api.token)
    assert Path(path).read_bytes() == b"hello"
    if private:  # only readers learn where a private repo went
        with pytest.raises(RepositoryNotFoundError):
            hf_hub_download(old_id, "hello.txt", cache_dir=tmp_path / "anon", token=False)


def test_move_onto_an_existing_repo_is_409(api: HfApi, repo_id: str) -> None:
    other = api.create_repo(f"alice/{unique()}").repo_id
    with pytest.raises(HfHubHTTPError) as error:
        api.move_repo(from_id=repo_id, to_id=other)
    assert error.value.response.status_code == 409
    assert f"A model repository called {other} already exists" in str(error.value)
    assert api.repo_exists(repo_id)


def test_update_repo_settings_is_reflected_in_model_info(
    hub: Hub, api: HfApi, repo_id: str
) -> None:
    anonymous = HfApi(endpoint=hub.endpoint, token=False)
    assert api.model_info(repo_id).private is False
    api.update_repo_settings(repo_id, private=True)
    assert api.model_info(repo_id).private is True
    with pytest.raises(RepositoryNotFoundError):
        anonymous.model_info(repo_id)
    api.update_repo_settings(repo_id, private=False, gated="auto")
    info = anonymous.model_info(repo_id)
    assert (info.private, info.gated) == (False, "auto")
    api.update_repo_settings(repo_id, gated=False)
    assert api.model_info(repo_id).gated is False


# --- uploads and downloads -------------------------------------------------------------------


def test_upload_folder_stores_lfs_by_gitattributes(api: HfApi, filled_repo: str) -> None:
    assert sorted(api.list_repo_files(filled_repo)) == sorted([".gitattributes", *FILES])
    info = api.model_info(filled_repo, files_metadata=True)
    siblings = {s.rfilename: s for s in info.siblings or []}
    for path, data in FILES.items():
        sibling = siblings[path]
        assert sibling.size == len(data)
        if path in LFS_FILES:
            assert sibling.lfs is not None
            assert (sibling.lfs.sha256, sibling.lfs.size) == (sha256(data), len(data))
        else:
            assert sibling.lfs is None, path
            assert sibling.blob_id == git_sha1(data)


def test_hf_hub_download_and_metadata(api: HfApi, filled_repo: str, tmp_path: Path) -> None:
    sha = api.model_info(filled_repo).sha
    for path, data in FILES.items():
        local = hf_hub_download(filled_repo, path, cache_dir=tmp_path, token=api.token)
        assert Path(local).read_bytes() == data
        meta = get_hf_file_metadata(hf_hub_url(filled_repo, path), token=api.token)
        assert meta.commit_hash == sha
        assert meta.size == len(data)
        assert meta.etag == (sha256(data) if path in LFS_FILES else git_sha1(data))
        # LFS files went up through Xet (the hub's default mode), so they come down through it.
        assert (meta.xet_file_data is not None) == (path in LFS_FILES)


def test_upload_file_returns_commit_info(hub: Hub, api: HfApi, repo_id: str) -> None:
    info = api.upload_file(
        path_or_fileobj=b"one\n", path_in_repo="docs/one.txt", repo_id=repo_id, commit_message="m1"
    )
    assert info.oid == api.model_info(repo_id).sha
    assert info.commit_url == f"{hub.endpoint}/{repo_id}/commit/{info.oid}"
    assert info.pr_url is None
    assert api.list_repo_commits(repo_id)[0].title == "m1"


def test_snapshot_download_to_local_dir(api: HfApi, filled_repo: str, tmp_path: Path) -> None:
    target = Path(snapshot_download(filled_repo, local_dir=tmp_path / "snap", token=api.token))
    for path, data in FILES.items():
        assert (target / path).read_bytes() == data
    only = Path(
        snapshot_download(
            filled_repo, allow_patterns=["sub/**"], cache_dir=tmp_path / "c", token=api.token
        )
    )
    assert sorted(p.relative_to(only).as_posix() for p in only.rglob("*") if p.is_file()) == [
        "sub/deep/notes.txt"
    ]


def test_list_repo_tree_recursive_and_expanded(api: HfApi, filled_repo: str) -> None:
    entries = list(api.list_repo_tree(filled_repo, recursive=True))
    files = {e.path for e in entries if isinstance(e, RepoFile)}
    folders = {e.path for e in entries if isinstance(e, RepoFolder)}
    assert files == {".gitattributes", *FILES}
    assert folders == {"sub", "sub/deep", "weights"}
    by_path = {e.path: e for e in entries}
    lfs_entry = by_path["pytorch_model.bin"]
    assert isinstance(lfs_entry, RepoFile) and lfs_entry.lfs is not None
    assert lfs_entry.lfs.sha256 == sha256(FILES["pytorch_model.bin"])
    top = list(api.list_repo_tree(filled_repo))
    assert {e.path for e in top} == {
        ".gitattributes",
        "config.json",
        "empty.pkl",
        "pytorch_model.bin",
        "sub",
        "weights",
    }
    inside = list(api.list_repo_tree(filled_repo, path_in_repo="sub/deep"))
    assert [e.path for e in inside] == ["sub/deep/notes.txt"]
    expanded = {e.path: e for e in api.list_repo_tree(filled_repo, recursive=True, expand=True)}
    head = api.list_repo_commits(filled_repo)[0]
    assert expanded["config.json"].last_commit is not None
    assert expanded["config.json"].last_commit.oid == head.commit_id
    assert expanded["config.json"].last_commit.title == "add files"
    gitattributes = expanded[".gitattributes"].last_commit
    assert gitattributes is not None and gitattributes.title == "initial commit"
    folder = expanded["sub/deep"]
    assert isinstance(folder, RepoFolder) and folder.last_commit is not None


def test_get_paths_info_skips_missing(api: HfApi, filled_repo: str) -> None:
    infos = api.get_paths_info(filled_repo, ["config.json", "weights", "missing.txt"])
    by_path = {i.path: i for i in infos}
    assert set(by_path) == {"config.json", "weights"}
    config = by_path["config.json"]
    assert isinstance(config, RepoFile)
    assert config.blob_id == git_sha1(FILES["config.json"])
    assert isinstance(by_path["weights"], RepoFolder)


def test_exists_helpers(api: HfApi, filled_repo: str) -> None:
    assert api.file_exists(filled_repo, "sub/deep/notes.txt")
    assert not api.file_exists(filled_repo, "sub/deep/other.txt")
    assert api.repo_exists(filled_repo)
    assert not api.repo_exists(f"alice/{unique('missing')}")
    assert api.revision_exists(filled_repo, "main")
    assert not api.revision_exists(filled_repo, "no-such-branch")


def test_case_insensitive_repo_ids(api: HfApi, filled_repo: str, tmp_path: Path) -> None:
    shouted = filled_repo.upper()
    assert api.model_info(shouted).id == filled_repo
    local = hf_hub_download(shouted, "config.json", cache_dir=tmp_path, token=api.token)
    assert Path(local).read_bytes() == FILES["config.json"]


def test_dataset_and_space_repos(hub: Hub, api: HfApi, tmp_path: Path) -> None:
    dataset_id = api.create_repo(f"alice/{unique('ds')}", repo_type="dataset").repo_id
    rows = b"a,b\n1,2\n"
    api.upload_file(
        path_or_fileobj=rows, path_in_repo="data/train.csv", repo_id=dataset_id, repo_type="dataset"
    )
    api.upload_file(
        path_or_fileobj=b"\x89PNG fake",
        path_in_repo="img/x.png",
        repo_id=dataset_id,
        repo_type="dataset",
    )
    info = api.dataset_info(dataset_id, files_metadata=True)
    siblings = {s.rfilename: s for s in info.siblings or []}
    assert set(siblings) == {".gitattributes", "data/train.csv", "img/x.png"}
    assert siblings["img/x.png"].lfs is not None  # dataset repos track images as LFS
    local = hf_hub_download(
        dataset_id, "data/train.csv", repo_type="dataset", cache_dir=tmp_path, token=api.token
    )
    assert Path(local).read_bytes() == rows
    assert not api.repo_exists(dataset_id)  # a dataset id is not a model id

    space = api.create_repo(f"alice/{unique('sp')}", repo_type="space", space_sdk="static")
    assert str(space) == f"{hub.endpoint}/spaces/{space.repo_id}"
    api.upload_file(
        path_or_fileobj=b"<h1>hi</h1>",
        path_in_repo="index.html",
        repo_id=space.repo_id,
        repo_type="space",
    )
    space_info = api.space_info(space.repo_id)
    assert space_info.sdk == "static"
    assert {s.rfilename for s in space_info.siblings or []} == {".gitattributes", "index.html"}


def test_list_models_search_author_visibility_and_limit(hub: Hub, api: HfApi) -> None:
    tag = uuid.uuid4().hex[:10]
    public = {api.create_repo(f"alice/list-{tag}-{i}").repo_id for i in range(3)}
    private = api.create_repo(f"alice/list-{tag}-secret", private=True).repo_id

    def ids(token: str | bool, **kwargs: object) -> list[str]:
        client = HfApi(endpoint=hub.endpoint, token=token)
        return [m.id for m in client.list_models(search=tag, **kwargs)]  # type: ignore[arg-type]

    assert set(ids(hub.alice, author="alice")) == public | {private}
    assert set(ids(False)) == public
    assert set(ids(hub.bob)) == public
    assert ids(hub.bob, author="bob") == []
    assert len(ids(hub.alice, limit=2)) == 2
    # Link pagination: a page of one gives the absolute URL of the next one.
    seen, url = [], f"{hub.endpoint}/api/models?search={tag}&limit=1"
    while url:
        response = httpx.get(url, headers={"authorization": f"Bearer {hub.alice}"})
        assert response.status_code == 200
        seen += [m["id"] for m in response.json()]
        url = response.links.get("next", {}).get("url", "")
    assert sorted(seen) == sorted(public | {private})


def test_list_datasets_and_spaces(hub: Hub, api: HfApi) -> None:
    tag = uuid.uuid4().hex[:10]
    dataset = api.create_repo(f"alice/ds-{tag}", repo_type="dataset", private=True).repo_id
    space = api.create_repo(f"alice/sp-{tag}", repo_type="space", space_sdk="static").repo_id
    model = api.create_repo(f"alice/m-{tag}").repo_id
    assert [d.id for d in api.list_datasets(search=tag)] == [dataset]
    assert [d.id for d in HfApi(endpoint=hub.endpoint, token=False).list_datasets(search=tag)] == []
    assert [s.id for s in api.list_spaces(search=tag)] == [space]
    assert [m.id for m in api.list_models(search=tag)] == [model]


# --- commits ---------------------------------------------------------------------------------


def test_create_commit_add_delete_copy(api: HfApi, repo_id: str) -> None:
    weights = os.urandom(30_000)
    api.create_commit(
        repo_id,
        operations=[
            CommitOperationAdd("a.txt", b"a"),
            CommitOperationAdd("folder/b.txt", b"b"),
            CommitOperationAdd("folder/c/d.txt", b"d"),
            CommitOperationAdd("model.bin", weights),
        ],
        commit_message="add",
    )
    info = api.create_commit(
        repo_id,
        operations=[
            CommitOperationDelete("a.txt"),
            CommitOperationDelete("folder/", is_folder=True),
            CommitOperationCopy("model.bin", "copies/model.bin"),
            CommitOperationAdd("config.json", b"{}"),
        ],
        commit_message="shuffle",
    )
    assert sorted(api.list_repo_files(repo_id)) == [
        ".gitattributes",
        "config.json",
        "copies/model.bin",
        "model.bin",
    ]
    copied = api.get_paths_info(repo_id, ["copies/model.bin"])[0]
    assert isinstance(copied, RepoFile) and copied.lfs is not None
    assert copied.lfs.sha256 == sha256(weights)
    assert api.list_repo_commits(repo_id)[0].commit_id == info.oid
    api.create_commit(
        repo_id, operations=[CommitOperationCopy("config.json", "config2.json")], commit_message="c"
    )
    assert api.get_paths_info(repo_id, ["config2.json"])[0].blob_id == git_sha1(b"{}")


def test_parent_commit_mismatch_is_412(api: HfApi, repo_id: str) -> None:
    initial = api.model_info(repo_id).sha
    api.upload_file(path_or_fileobj=b"1", path_in_repo="one.txt", repo_id=repo_id)
    with pytest.raises(HfHubHTTPError) as error:
        api.create_commit(
            repo_id,
            operations=[CommitOperationAdd("two.txt", b"2")],
            commit_message="stale",
            parent_commit=initial,
        )
    assert error.value.response.status_code == 412
    assert error.value.response.headers["X-Error-Message"] == (
        "The branch was updated since you opened this page. Please refresh and try again."
    )
    head = api.model_info(repo_id).sha
    info = api.create_commit(
        repo_id,
        operations=[CommitOperationAdd("two.txt", b"2")],
        commit_message="fresh",
        parent_commit=head,
    )
    assert api.model_info(repo_id).sha == info.oid


def test_deleting_a_missing_file_is_entry_not_found(api: HfApi, repo_id: str) -> None:
    head = api.model_info(repo_id).sha
    with pytest.raises(EntryNotFoundError) as error:
        api.create_commit(
            repo_id, operations=[CommitOperationDelete("nope.txt")], commit_message="del"
        )
    assert isinstance(error.value, HfHubHTTPError)
    assert error.value.response.status_code == 404
    assert "A file with this name doesn't exist" in str(error.value)
    assert api.model_info(repo_id).sha == head


def test_branches_tags_and_refs(api: HfApi, repo_id: str, tmp_path: Path) -> None:
    api.create_branch(repo_id, branch="dev")
    with pytest.raises(HfHubHTTPError) as error:
        api.create_branch(repo_id, branch="dev")
    assert error.value.response.status_code == 409
    assert "Reference refs/heads/dev already exists" in str(error.value)
    api.create_branch(repo_id, branch="dev", exist_ok=True)
    with pytest.raises(BadRequestError):
        api.create_branch(repo_id, branch="refs/pr/5")
    with pytest.raises(HfHubHTTPError) as error:
        api.delete_branch(repo_id, branch="main")
    assert error.value.response.status_code == 403

    info = api.upload_file(
        path_or_fileobj=b"dev only", path_in_repo="dev.txt", repo_id=repo_id, revision="dev"
    )
    local = hf_hub_download(repo_id, "dev.txt", revision="dev", cache_dir=tmp_path, token=api.token)
    assert Path(local).read_bytes() == b"dev only"
    assert not api.file_exists(repo_id, "dev.txt")
    assert api.file_exists(repo_id, "dev.txt", revision="dev")

    api.create_tag(repo_id, tag="v1.0", revision="dev", tag_message="first release")
    api.create_tag(repo_id, tag="light", revision="main")
    refs = api.list_repo_refs(repo_id)
    assert {b.name: b.target_commit for b in refs.branches}["dev"] == info.oid
    tags = {t.name: t.target_commit for t in refs.tags}
    assert tags == {"v1.0": info.oid, "light": api.model_info(repo_id).sha}
    local = hf_hub_download(repo_id, "dev.txt", revision="v1.0", cache_dir=tmp_path / "t")
    assert Path(local).read_bytes() == b"dev only"
    api.delete_tag(repo_id, tag="v1.0")
    api.delete_branch(repo_id, branch="dev")
    refs = api.list_repo_refs(repo_id)
    assert [b.name for b in refs.branches] == ["main"]
    assert [t.name for t in refs.tags] == ["light"]


def test_ref_errors(api: HfApi, repo_id: str) -> None:
    api.create_tag(repo_id, tag="v1")
    with pytest.raises(HfHubHTTPError) as error:
        api.create_tag(repo_id, tag="v1")
    assert error.value.response.status_code == 409
    with pytest.raises(RevisionNotFoundError):
        api.create_tag(repo_id, tag="v2", revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        api.delete_tag(repo_id, tag="v9")
    with pytest.raises(RevisionNotFoundError):
        api.delete_branch(repo_id, branch="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        api.create_branch(repo_id, branch="dev", revision="no-such-branch")
    # A branch may share a tag's name; each is deleted through its own endpoint.
    api.create_branch(repo_id, branch="v1")
    api.delete_branch(repo_id, branch="v1")
    assert [t.name for t in api.list_repo_refs(repo_id).tags] == ["v1"]


def test_download_by_commit_sha(api: HfApi, repo_id: str, tmp_path: Path) -> None:
    first = api.upload_file(path_or_fileobj=b"v1", path_in_repo="f.txt", repo_id=repo_id)
    api.upload_file(path_or_fileobj=b"v2", path_in_repo="f.txt", repo_id=repo_id)
    for revision in (first.oid, first.oid[:7]):
        local = hf_hub_download(
            repo_id, "f.txt", revision=revision, cache_dir=tmp_path / revision, token=api.token
        )
        assert Path(local).read_bytes() == b"v1"
        assert api.model_info(repo_id, revision=revision).sha == first.oid
    local = hf_hub_download(repo_id, "f.txt", cache_dir=tmp_path / "main", token=api.token)
    assert Path(local).read_bytes() == b"v2"


def test_awful_filenames_round_trip(api: HfApi, repo_id: str, tmp_path: Path) -> None:
    # huggingface_hub's own test name: every character that needs quoting in a URL.
    awful = "subfolder/to?/awful?filename%you:should,never.give"
    spaced = "with space/é ü #hash [x].txt"
    for path in (awful, spaced):
        api.upload_file(path_or_fileobj=path.encode(), path_in_repo=path, repo_id=repo_id)
        local = hf_hub_download(repo_id, path, cache_dir=tmp_path, token=api.token)
        assert Path(local).read_bytes() == path.encode()
        assert api.file_exists(repo_id, path)
    folder = list(api.list_repo_tree(repo_id, path_in_repo="subfolder/to?"))
    assert [e.path for e in folder] == [awful]
    assert {e.path for e in api.get_paths_info(repo_id, [awful, spaced])} == {awful, spaced}


def test_list_repo_commits_authors_and_initial_commit(api: HfApi, repo_id: str) -> None:
    api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id, commit_message="x")
    commits = api.list_repo_commits(repo_id)
    assert [c.title for c in commits] == ["x", "initial commit"]
    assert all(c.authors == ["alice"] for c in commits)
    assert commits[0].commit_id == api.model_info(repo_id).sha


def test_create_pr(hub: Hub, api: HfApi, repo_id: str, tmp_path: Path) -> None:
    info = api.upload_file(
        path_or_fileobj=b"proposal", path_in_repo="pr.txt", repo_id=repo_id, create_pr=True
    )
    assert info.pr_url == f"{hub.endpoint}/{repo_id}/discussions/1"
    assert (info.pr_num, info.pr_revision) == (1, "refs/pr/1")
    local = hf_hub_download(repo_id, "pr.txt", revision="refs/pr/1", cache_dir=tmp_path)
    assert Path(local).read_bytes() == b"proposal"
    assert not api.file_exists(repo_id, "pr.txt")
    refs = api.list_repo_refs(repo_id, include_pull_requests=True)
    assert [(r.name, r.target_commit) for r in refs.pull_requests or []] == [("1", info.oid)]
    # Anyone who can read may propose a change; bob opens PR #2 on alice's public repo.
    bob = HfApi(endpoint=hub.endpoint, token=hub.bob)
    second = bob.upload_file(
        path_or_fileobj=b"from bob", path_in_repo="bob.txt", repo_id=repo_id, create_pr=True
    )
    assert second.pr_num == 2
    assert bob.list_repo_commits(repo_id, revision="refs/pr/2")[0].authors == ["bob"]


def test_upload_folder_as_pr(hub: Hub, api: HfApi, repo_id: str, tmp_path: Path) -> None:
    folder = write_tree(tmp_path / "pr", {"a.txt": b"a", "deep/b.safetensors": b"\x00" * 64})
    info = api.upload_folder(folder_path=folder, repo_id=repo_id, create_pr=True)
    assert info.pr_url is not None and info.pr_url.startswith(
        f"{hub.endpoint}/{repo_id}/discussions/"
    )
    files = api.list_repo_files(repo_id, revision=info.pr_revision)
    assert sorted(files) == [".gitattributes", "a.txt", "deep/b.safetensors"]
    assert api.list_repo_files(repo_id) == [".gitattributes"]


def test_unchanged_files_make_no_commit(api: HfApi, repo_id: str) -> None:
    first = api.upload_file(path_or_fileobj=b"same", path_in_repo="same.txt", repo_id=repo_id)
    again = api.upload_file(path_or_fileobj=b"same", path_in_repo="same.txt", repo_id=repo_id)
    assert again.oid == first.oid
    assert len(api.list_repo_commits(repo_id)) == 2


def test_delete_file_and_folder_helpers(api: HfApi, filled_repo: str) -> None:
    api.delete_file("config.json", filled_repo)
    api.delete_folder("sub", filled_repo)
    remaining = {".gitattributes", *FILES} - {"config.json", "sub/deep/notes.txt"}
    assert set(api.list_repo_files(filled_repo)) == remaining


# --- byte ranges -----------------------------------------------------------------------------


def test_hf_file_system_partial_reads(api: HfApi, filled_repo: str) -> None:
    fs = HfFileSystem(endpoint=api.endpoint, token=api.token)
    for path in ("weights/model.safetensors", "sub/deep/notes.txt"):
        data = FILES[path]
        with fs.open(f"{filled_repo}/{path}", "rb", block_size=16) as handle:
            handle.seek(5)
            assert handle.read(20) == data[5:25]
            handle.seek(len(data) - 7)
            assert handle.read() == data[-7:]
    assert fs.ls(f"{filled_repo}/sub", detail=False) == [f"{filled_repo}/sub/deep"]
    assert sorted(fs.glob(f"{filled_repo}/**/*.txt")) == [f"{filled_repo}/sub/deep/notes.txt"]
    info = fs.info(f"{filled_repo}/weights/model.safetensors")
    assert (info["type"], info["size"]) == ("file", len(FILES["weights/model.safetensors"]))
    lfs_file = FILES["pytorch_model.bin"]
    assert fs.cat_file(f"{filled_repo}/pytorch_model.bin", start=100, end=200) == lfs_file[100:200]


@pytest.mark.parametrize("path", ["weights/model.safetensors", "sub/deep/notes.txt"])
def test_range_requests(hub: Hub, filled_repo: str, path: str) -> None:
    data = FILES[path]
    url = f"{hub.endpoint}/{filled_repo}/resolve/main/{path}"
    headers = {"authorization": f"Bearer {hub.alice}"}
    part = httpx.get(url, headers={**headers, "range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = httpx.get(url, headers={**headers, "range": "bytes=-5"})
    assert (tail.status_code, tail.content) == (206, data[-5:])
    past = httpx.get(url, headers={**headers, "range": f"bytes={len(data)}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{len(data)}"


def test_unchanged_large_files_are_not_sent_again(hub: Hub, tmp_path: Path) -> None:
    """In inline mode a large file arrives as a regular one; preupload still knows its id."""
    api = HfApi(token=hub.alice)
    repo_id = api.create_repo(f"alice/{unique('noop')}").repo_id
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(bytes(range(256)) * 40)
    (folder / "notes.txt").write_text("notes")
    first = api.upload_folder(folder_path=folder, repo_id=repo_id)
    api.upload_folder(folder_path=folder, repo_id=repo_id)  # nothing changed: no commit
    assert api.model_info(repo_id).sha == first.oid
    (folder / "weights.bin").write_bytes(bytes(range(256)) * 41)
    third = api.upload_folder(folder_path=folder, repo_id=repo_id)
    assert third.oid != first.oid
    assert [c.commit_id for c in api.list_repo_commits(repo_id)][:2] == [third.oid, first.oid]
