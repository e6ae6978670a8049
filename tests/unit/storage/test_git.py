"""Bare git repos: revisions, trees, atomic commits, LFS pointers."""

from pathlib import Path

import pygit2
import pytest

from hugbox.storage import git


@pytest.fixture
def repo(tmp_path: Path) -> pygit2.Repository:
    return git.init_bare(tmp_path / "r.git")


def _commit(repo: pygit2.Repository, changes: list[git.Change], parent: str | None = None) -> str:
    base = git.resolve(repo, parent) if parent else None
    tree = git.build_tree(repo, base, changes)
    oid = git.write_commit(
        repo, tree_oid=tree, parents=[parent] if parent else [], author_name="alice",
        author_email="a@x", message="msg",
    )  # fmt: skip
    git.set_ref(repo, "refs/heads/main", oid)
    return oid


def test_commit_and_resolve_by_branch_tag_and_short_sha(repo: pygit2.Repository) -> None:
    oid = _commit(repo, [git.Put("a/b.txt", git.write_blob(repo, b"hi"))])
    git.set_ref(repo, "refs/tags/v1", oid)
    for revision in ("main", "refs/heads/main", "v1", oid, oid[:7]):
        commit = git.resolve(repo, revision)
        assert commit is not None and str(commit.id) == oid
    for revision in ("nope", "main~1", "HEAD^", "zzzzzzz"):
        assert git.resolve(repo, revision) is None


def test_walk_lists_folders_and_files(repo: pygit2.Repository) -> None:
    blob = git.write_blob(repo, b"x")
    oid = _commit(repo, [git.Put("a/b/c.txt", blob), git.Put("d.txt", blob)])
    commit = git.resolve(repo, oid)
    assert commit is not None
    items = list(git.walk(repo, commit.tree, "", recursive=True))
    assert [(i.path, i.is_dir) for i in items] == [
        ("a", True), ("a/b", True), ("a/b/c.txt", False), ("d.txt", False),
    ]  # fmt: skip
    assert [i.path for i in git.walk(repo, commit.tree, "", recursive=False)] == ["a", "d.txt"]


def test_remove_file_and_folder(repo: pygit2.Repository) -> None:
    blob = git.write_blob(repo, b"x")
    first = _commit(repo, [git.Put("a/1", blob), git.Put("a/2", blob), git.Put("b", blob)])
    second = _commit(repo, [git.RemoveDir("a/"), git.Remove("b"), git.Put("c", blob)], first)
    commit = git.resolve(repo, second)
    assert commit is not None
    assert [i.path for i in git.walk(repo, commit.tree, "", recursive=True)] == ["c"]


@pytest.mark.parametrize(("existing", "new"), [("a", "a/b"), ("a/b", "a")])
def test_file_folder_conflicts_are_refused(
    repo: pygit2.Repository, existing: str, new: str
) -> None:
    blob = git.write_blob(repo, b"x")
    first = _commit(repo, [git.Put(existing, blob)])
    with pytest.raises(git.TreeConflict):
        git.build_tree(repo, git.resolve(repo, first), [git.Put(new, blob)])


def test_lfs_pointer_round_trip() -> None:
    oid = "a" * 64
    pointer = git.lfs_pointer_bytes(oid, 1234)
    parsed = git.parse_lfs_pointer(pointer)
    assert parsed == git.LfsPointer(oid, 1234, len(pointer))
    assert git.parse_lfs_pointer(b"just text") is None
    assert git.parse_lfs_pointer(pointer.replace(b"sha256:", b"md5:")) is None
