"""Bare git repos: revisions, trees, atomic commits, LFS pointers."""

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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
    git.set_ref(repo, "refs/heads/main", oid, old=parent)
    return oid


def test_commit_and_resolve_by_branch_tag_and_short_sha(repo: pygit2.Repository) -> None:
    oid = _commit(repo, [git.Put("a/b.txt", git.write_blob(repo, b"hi"))])
    git.set_ref(repo, "refs/tags/v1", oid, old=None)
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


# --- durability: what a commit acknowledged to a client has on disk --------------------------


def _fsyncs(script: str, cwd: Path) -> int:
    """fsync calls made by a Python process (and the git processes it runs) running `script`."""
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    trace = cwd / "trace.txt"
    command = ["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync", "-o", str(trace)]
    done = subprocess.run(
        [*command, sys.executable, "-c", script], cwd=cwd, capture_output=True, check=False
    )
    if done.returncode != 0 and b"ptrace" in done.stderr:
        pytest.skip("strace may not trace here")
    assert done.returncode == 0, done.stderr
    return sum(1 for line in trace.read_text().splitlines() if "fsync(" in line)


PYGIT2_WRITE = """
from pathlib import Path
from hugbox.storage import git
repo = git.init_bare(Path("r.git"))
{setup}
blob = git.write_blob(repo, b"acknowledged")
tree = git.build_tree(repo, None, [git.Put("a.txt", blob)])
commit = git.write_commit(repo, tree_oid=tree, parents=[], author_name="a", author_email="a@x",
                          message="m")
git.set_ref(repo, "refs/heads/main", commit, old=None)
"""


def test_pygit2_writes_are_fsynced_once_a_store_exists(tmp_path: Path) -> None:
    setup = (
        "from hugbox.repos.store import RepoStore\n"
        "from hugbox.storage.blobs import LocalBlobStore\n"
        "RepoStore(repos_dir=Path('repos'), blobs=LocalBlobStore(Path('b')), tmp_dir=Path('t'))"
    )
    (tmp_path / "without").mkdir()
    (tmp_path / "with").mkdir()
    assert _fsyncs(PYGIT2_WRITE.format(setup=""), tmp_path / "without") == 0
    # Three objects and a ref, each file and its folder.
    assert _fsyncs(PYGIT2_WRITE.format(setup=setup), tmp_path / "with") >= 8


def test_git_commands_the_hub_runs_fsync_refs(tmp_path: Path) -> None:
    # A repo made before the setting: only the command line asks git to fsync.
    old = pygit2.init_repository(str(tmp_path / "old.git"), bare=True)
    oid = _commit(old, [git.Put("a.txt", git.write_blob(old, b"a"))])
    durable = [*git.config_args(git.DURABLE_CONFIG), "--git-dir", old.path]
    plain = ["--git-dir", old.path]
    update = "import subprocess\nsubprocess.run(['git', *{}, 'update-ref', '{}', '{}'], check=True)"
    assert _fsyncs(update.format(durable, "refs/heads/x", oid), tmp_path) >= 1
    assert _fsyncs(update.format(plain, "refs/heads/y", oid), tmp_path) == 0


def test_new_repos_ask_git_to_fsync(repo: pygit2.Repository) -> None:
    done = subprocess.run(
        ["git", "--git-dir", repo.path, "config", "core.fsync"], capture_output=True, text=True
    )
    assert done.stdout.strip() == "committed"


def test_open_repos_reuses_a_repo_and_sees_its_new_commits(
    repo: pygit2.Repository, tmp_path: Path
) -> None:
    opened = git.OpenRepos(size=2)
    reader = opened.open(tmp_path / "r.git")
    assert opened.open(tmp_path / "r.git") is reader
    oid = _commit(repo, [git.Put("a.txt", git.write_blob(repo, b"hi"))])
    commit = git.resolve(reader, "main")  # written through another handle
    assert commit is not None and str(commit.id) == oid


def test_open_repos_notices_a_repo_removed_or_made_anew(
    repo: pygit2.Repository, tmp_path: Path
) -> None:
    opened = git.OpenRepos()
    path = tmp_path / "r.git"
    _commit(repo, [git.Put("a.txt", git.write_blob(repo, b"old"))])
    old = opened.open(path)
    git.remove(path)
    with pytest.raises(FileNotFoundError):
        opened.open(path)
    _commit(git.init_bare(path), [git.Put("a.txt", git.write_blob(repo, b"new"))])
    again = opened.open(path)
    assert again is not old
    commit = git.resolve(again, "main")
    assert commit is not None and git.lookup(again, commit, "a.txt") is not None


def test_a_ref_moves_only_from_where_its_writer_saw_it(repo: pygit2.Repository) -> None:
    first = _commit(repo, [git.Put("a.txt", git.write_blob(repo, b"1"))])
    second = _commit(repo, [git.Put("a.txt", git.write_blob(repo, b"2"))], first)
    with pytest.raises(git.RefMoved):  # it exists already
        git.set_ref(repo, "refs/heads/main", first, old=None)
    with pytest.raises(git.RefMoved):  # it moved on from `first`
        git.set_ref(repo, "refs/heads/main", first, old=first)
    with pytest.raises(git.RefMoved):
        git.delete_ref(repo, "refs/heads/main", old=first)
    assert git.ref_target(repo, "refs/heads/main") == second
    git.delete_ref(repo, "refs/heads/main", old=second)
    assert git.ref_target(repo, "refs/heads/main") is None


def test_libgit2_compares_and_moves_a_ref_under_its_lock_file(
    repo: pygit2.Repository, tmp_path: Path
) -> None:
    """The check is libgit2's own, not only ours: a reference read before another writer (here
    another handle, as another process would be) moved it cannot be moved or deleted."""
    first = _commit(repo, [git.Put("a.txt", git.write_blob(repo, b"1"))])
    stale = repo.references.get("refs/heads/main")
    other = git.open_repo(tmp_path / "r.git")
    _commit(other, [git.Put("a.txt", git.write_blob(other, b"2"))], first)
    with pytest.raises(pygit2.GitError, match="does not match"):
        stale.set_target(pygit2.Oid(hex=first))
    with pytest.raises(pygit2.GitError, match="does not match"):
        stale.delete()
    (tmp_path / "r.git" / "refs" / "heads" / "dev.lock").write_text("")  # a writer holds it
    with pytest.raises(git.RefMoved):
        git.set_ref(repo, "refs/heads/dev", first, old=None)


def test_a_lock_the_caller_holds_replaces_the_file_lock(repo: pygit2.Repository) -> None:
    git_dir = Path(repo.path)
    taken: list[str] = []

    @contextmanager
    def held() -> Iterator[None]:
        taken.append("held")
        yield

    with git.locked(git_dir, held()):
        assert not (git_dir / "hugbox.lock").exists()
    assert taken == ["held"]
    with git.locked(git_dir):
        assert (git_dir / "hugbox.lock").exists()
    git.remove(git_dir, held())
    with pytest.raises(git.RepoGone), git.locked(git_dir, held()):
        pass
