"""Bare git repositories through pygit2: resolve revisions, read trees, write commits atomically."""

from __future__ import annotations

import fcntl
import re
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pygit2
from pygit2.enums import FileMode, SortMode

# The git types the rest of the hub holds (an opened repo, its commits, blobs and trees), named
# here so that only storage/ imports pygit2.
Repository = pygit2.Repository
Commit = pygit2.Commit
Blob = pygit2.Blob
Tree = pygit2.Tree
Object = pygit2.Object
GitError = pygit2.GitError

HEX_RE = re.compile(r"^[0-9a-f]{4,40}$")
LFS_POINTER_MAX = 1024
_LFS_HEADER = b"version https://git-lfs.github.com/spec/v1\n"
_LFS_RE = re.compile(rb"\noid sha256:([0-9a-f]{64})\nsize (\d+)\n")


@dataclass(frozen=True)
class LfsPointer:
    oid: str
    size: int
    pointer_size: int


@dataclass(frozen=True)
class TreeItem:
    """One entry of a tree walk. `size` is the git blob size (a pointer's size for LFS files)."""

    path: str
    is_dir: bool
    oid: str
    size: int


@dataclass(frozen=True)
class Put:
    path: str
    blob_oid: str


@dataclass(frozen=True)
class Remove:
    path: str


@dataclass(frozen=True)
class RemoveDir:
    path: str


Change = Put | Remove | RemoveDir


class TreeConflict(ValueError):
    """A change would put a file where a folder is, or the other way round."""


def lfs_pointer_bytes(oid: str, size: int) -> bytes:
    return _LFS_HEADER + f"oid sha256:{oid}\nsize {size}\n".encode()


def parse_lfs_pointer(data: bytes) -> LfsPointer | None:
    if len(data) > LFS_POINTER_MAX or not data.startswith(_LFS_HEADER):
        return None
    match = _LFS_RE.search(data)
    if not match:
        return None
    return LfsPointer(match[1].decode(), int(match[2]), len(data))


# An acknowledged write must survive power loss: git's own commands fsync objects and refs
# (by default git leaves refs and loose objects in the page cache). The hub passes this on the
# command line of every git command that writes, so it holds for repos made before it too; new
# repos also carry it in their config, for whoever runs git on them by hand.
DURABLE_CONFIG = {"core.fsync": "committed", "core.fsyncMethod": "fsync"}


def config_args(config: Mapping[str, str]) -> list[str]:
    """`-c key=value` options for a git command line."""
    return [arg for key, value in config.items() for arg in ("-c", f"{key}={value}")]


def enable_fsync() -> None:
    """Make libgit2 (every pygit2 write in this process) fsync the objects and refs it writes,
    and their folders, as `DURABLE_CONFIG` does for git's commands."""
    pygit2.settings.enable_fsync_gitdir(True)


def init_bare(path: Path) -> pygit2.Repository:
    repo = pygit2.init_repository(str(path), bare=True, initial_head="main")
    # Let smart HTTP serve it and accept pushes without per-repo setup later.
    repo.config["http.receivepack"] = True
    repo.config["uploadpack.allowFilter"] = True
    for key, value in DURABLE_CONFIG.items():
        repo.config[key] = value
    return repo


def open_repo(path: Path) -> pygit2.Repository:
    return pygit2.Repository(str(path))


class OpenRepos:
    """Opened repositories to read from, reused: opening one costs more than most reads. Kept
    per thread (libgit2 objects are for one thread at a time), the `size` last used in each.

    A reused repo sees new commits: libgit2 reads refs from disk on each lookup and rescans
    the packs when an object is missing. Each use stats the folder, so a repo deleted (renamed
    away) is not found, and one made anew at the same path (a new inode, or a reused inode
    with a new ctime) is opened anew."""

    def __init__(self, size: int = 8):
        self._size = size
        self._local = threading.local()

    def open(self, path: Path) -> pygit2.Repository:
        """The repo at `path`; FileNotFoundError when there is none."""
        stat = path.stat()
        identity = (stat.st_dev, stat.st_ino, stat.st_ctime_ns)
        entries: OrderedDict[Path, tuple[tuple[int, int, int], pygit2.Repository]]
        entries = self._local.__dict__.setdefault("entries", OrderedDict())
        found = entries.pop(path, None)
        if found is None or found[0] != identity:
            found = (identity, open_repo(path))
        entries[path] = found
        while len(entries) > self._size:
            entries.popitem(last=False)
        return found[1]


def resolve(repo: pygit2.Repository, revision: str) -> pygit2.Commit | None:
    """Branch, tag, full ref name, or (short) commit sha; nothing else (no `main~1` syntax)."""
    candidates = [revision] if revision.startswith("refs/") else []
    candidates += [f"refs/heads/{revision}", f"refs/tags/{revision}"]
    for name in candidates:
        ref = repo.references.get(name)
        if ref is not None:
            return _peel_commit(repo, ref.target)
    if HEX_RE.match(revision):
        try:
            obj = repo.revparse_single(revision)
        except (KeyError, ValueError, pygit2.GitError):
            return None
        return _peel_commit(repo, obj.id)
    return None


def _peel_commit(repo: pygit2.Repository, oid: pygit2.Oid | str) -> pygit2.Commit | None:
    obj = repo.get(oid)
    while isinstance(obj, pygit2.Tag):
        obj = repo.get(obj.target)
    return obj if isinstance(obj, pygit2.Commit) else None


def lookup(repo: pygit2.Repository, commit: pygit2.Commit, path: str) -> pygit2.Object | None:
    """The blob or tree at `path` ("" is the root tree), or None."""
    if not path:
        return commit.tree
    try:
        entry = commit.tree[path]
    except KeyError:
        return None
    return repo.get(entry.id)


def find_item(repo: pygit2.Repository, commit: pygit2.Commit, path: str) -> TreeItem | None:
    """The file or folder at `path` (not ""), or None: a blob's size comes from its header, so
    its content is not read (`lookup` reads it whole)."""
    try:
        entry = commit.tree[path]
    except KeyError:
        return None
    if entry.type_str == "tree":
        return TreeItem(path, True, str(entry.id), 0)
    if entry.type_str != "blob":
        return None  # a submodule's commit
    try:
        size = repo.odb.read_header(entry.id)[1]
    except KeyError:
        return None
    return TreeItem(path, False, str(entry.id), size)


def walk(
    repo: pygit2.Repository, tree: pygit2.Tree, prefix: str, *, recursive: bool
) -> Iterator[TreeItem]:
    """Entries under `tree` (whose path is `prefix`), folders before their content."""
    odb = repo.odb
    for entry in tree:
        path = f"{prefix}/{entry.name}" if prefix else str(entry.name)
        if entry.type_str == "tree":
            yield TreeItem(path, True, str(entry.id), 0)
            if recursive:
                subtree = repo.get(entry.id)
                assert isinstance(subtree, pygit2.Tree)
                yield from walk(repo, subtree, path, recursive=True)
        elif entry.type_str == "blob":
            # The object header alone: loading the blob would inflate all of its content.
            yield TreeItem(path, False, str(entry.id), odb.read_header(entry.id)[1])


def new_blobs(repo: pygit2.Repository, old: str | None, new: str) -> list[TreeItem]:
    """The files of commit `new` whose content commit `old` lacks at the same path (added or
    changed); every file when `old` is None (a new branch)."""
    commit = _peel_commit(repo, new)
    if commit is None:
        return []
    base = _peel_commit(repo, old) if old else None
    if base is None:
        return [item for item in walk(repo, commit.tree, "", recursive=True) if not item.is_dir]
    odb = repo.odb
    return [
        TreeItem(d.new_file.path, False, str(d.new_file.id), odb.read_header(d.new_file.id)[1])
        for d in base.tree.diff_to_tree(commit.tree).deltas
        if d.status_char() in ("A", "M", "R", "C", "T") and d.new_file.mode != FileMode.COMMIT
    ]


def write_blob(repo: pygit2.Repository, data: bytes) -> str:
    return str(repo.create_blob(data))


def write_blob_from_file(repo: pygit2.Repository, path: Path) -> str:
    return str(repo.create_blob_fromdisk(str(path)))


def build_tree(repo: pygit2.Repository, base: pygit2.Commit | None, changes: list[Change]) -> str:
    index = pygit2.Index()
    if base is not None:
        index.read_tree(base.tree)
    for change in changes:
        if isinstance(change, Put):
            _check_no_conflict(index, change.path)
            index.add(
                pygit2.IndexEntry(change.path, pygit2.Oid(hex=change.blob_oid), FileMode.BLOB)
            )
        elif isinstance(change, Remove):
            index.remove(change.path)
        else:
            index.remove_directory(change.path.rstrip("/"))
    return str(index.write_tree(repo))


def _check_no_conflict(index: pygit2.Index, path: str) -> None:
    parts = path.split("/")
    for depth in range(1, len(parts)):
        if "/".join(parts[:depth]) in index:
            raise TreeConflict(f"Cannot add {path}: {'/'.join(parts[:depth])} is a file")
    folder = path + "/"
    if any(entry.path.startswith(folder) for entry in index):
        raise TreeConflict(f"Cannot add {path}: it is a folder")


def write_commit(
    repo: pygit2.Repository,
    *,
    tree_oid: str,
    parents: list[str],
    author_name: str,
    author_email: str,
    message: str,
) -> str:
    signature = pygit2.Signature(author_name, author_email)
    oid = repo.create_commit(None, signature, signature, message, pygit2.Oid(hex=tree_oid), parents)
    return str(oid)


def set_ref(repo: pygit2.Repository, ref_name: str, oid: str, *, old: str | None) -> None:
    """Point `ref_name` at `oid` if it still points at `old` (None: if it does not exist yet),
    else raise RefMoved. libgit2 compares and writes under the ref's own lock file, so the check
    holds even against a writer outside this process (git_reference_set_target compares with
    the target the reference was read with)."""
    try:
        if old is None:
            repo.references.create(ref_name, pygit2.Oid(hex=oid), force=False)
            return
        ref = repo.references.get(ref_name)
        if ref is None or str(ref.target) != old:
            raise RefMoved(ref_name)
        ref.set_target(pygit2.Oid(hex=oid))
    except pygit2.GitError as exc:  # it exists, or it moved
        raise RefMoved(ref_name) from exc
    except OSError as exc:
        if "failed to lock file" not in str(exc):
            raise
        raise RefMoved(ref_name) from exc  # another writer holds the ref's lock file


def delete_ref(repo: pygit2.Repository, ref_name: str, *, old: str | None) -> None:
    """Delete `ref_name` if it still leads to the commit `old` (as `ref_target` read it), else
    raise RefMoved; libgit2 deletes it only if it is unchanged since read here."""
    ref = repo.references.get(ref_name)
    if ref is None or _commit_id(repo, ref.target) != old:
        raise RefMoved(ref_name)
    try:
        ref.delete()
    except (pygit2.GitError, OSError) as exc:
        raise RefMoved(ref_name) from exc


def ref_names(repo: pygit2.Repository, prefix: str) -> list[str]:
    return sorted(name for name in repo.references if name.startswith(prefix))


def ref_target(repo: pygit2.Repository, ref_name: str) -> str | None:
    ref = repo.references.get(ref_name)
    return None if ref is None else _commit_id(repo, ref.target)


def _commit_id(repo: pygit2.Repository, target: pygit2.Oid | str) -> str | None:
    commit = _peel_commit(repo, target)
    return str(commit.id) if commit else None


def ref_targets(repo: pygit2.Repository) -> dict[str, str]:
    """{ref name: commit id} for every branch, tag and other ref that leads to a commit."""
    targets = {name: ref_target(repo, name) for name in repo.references}
    return {name: target for name, target in targets.items() if target is not None}


def history(repo: pygit2.Repository, head: str) -> Iterator[pygit2.Commit]:
    yield from repo.walk(pygit2.Oid(hex=head), SortMode.TOPOLOGICAL | SortMode.TIME)


def commit_date(commit: pygit2.Commit) -> datetime:
    return datetime.fromtimestamp(commit.commit_time, UTC)


class RepoGone(Exception):
    """The repo was deleted while a request that had found it waited for it."""


class RefMoved(Exception):
    """A ref was not where its writer last saw it: another writer moved it, which the repo lock
    should have prevented (a lock lost with its database connection)."""


@contextmanager
def locked(git_dir: Path, held: AbstractContextManager[object] | None = None) -> Iterator[None]:
    """Serialise writers of one repo. `held` is a lock the caller took for every writer, such as
    a database lock that all machines share; without one, an flock on a file in the repo, which
    serialises the processes of one machine (or of a network filesystem that passes flock on).
    Raises RepoGone when the repo is deleted before or while waiting: the writer must not
    recreate it."""
    with held if held is not None else _flocked(git_dir):
        if not (git_dir / "HEAD").exists():  # removed by the delete we waited for
            raise RepoGone(git_dir)
        yield


@contextmanager
def _flocked(git_dir: Path) -> Iterator[None]:
    try:
        handle = (git_dir / "hugbox.lock").open("w")
    except FileNotFoundError:
        raise RepoGone(git_dir) from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove(git_dir: Path, held: AbstractContextManager[object] | None = None) -> None:
    """Delete a repo once its writers are done (`held`: as for `locked`). It is renamed first,
    so no reader ever opens a half-removed repo: it finds the whole repo or none."""
    try:
        with locked(git_dir, held):
            doomed = git_dir.with_name(f".deleted-{uuid.uuid4().hex}-{git_dir.name}")
            git_dir.rename(doomed)
    except RepoGone:
        return  # a concurrent delete got there first
    shutil.rmtree(doomed, ignore_errors=True)


def nesting_ref(repo: pygit2.Repository, ref_name: str) -> str | None:
    """An existing ref that `ref_name` would nest with (`dev` beside a new `dev/x`, or
    `feat/x` beside a new `feat`): refs are files, so git cannot hold both."""
    for name in repo.references:
        if name.startswith(f"{ref_name}/") or ref_name.startswith(f"{name}/"):
            return str(name)
    return None


def hash_file(path: Path) -> str:
    """The git blob id a file's content would have."""
    return str(pygit2.hashfile(str(path)))


def valid_branch_name(name: str) -> bool:
    """Whether `git branch` accepts `name` (and so `git tag`): a valid `refs/heads/<name>` that
    reads as no option and no other revision (`-x`, `HEAD`, `@`)."""
    if name.startswith("-") or name in ("HEAD", "@"):
        return False
    return bool(pygit2.reference_is_valid_name(f"refs/heads/{name}"))


def create_annotated_tag(
    repo: pygit2.Repository, name: str, target: str, *, tagger: str, email: str, message: str
) -> None:
    signature = pygit2.Signature(tagger, email)
    repo.create_tag(
        name, pygit2.Oid(hex=target), pygit2.enums.ObjectType.COMMIT, signature, message
    )


@dataclass(frozen=True)
class Merged:
    """A three-way merge of trees: the tree, or the paths that conflict (then no tree)."""

    tree_oid: str | None
    conflicts: list[str]


def merge_base(repo: pygit2.Repository, one: str, other: str) -> str | None:
    found = repo.merge_base(pygit2.Oid(hex=one), pygit2.Oid(hex=other))
    return str(found) if found else None


def merge_trees(repo: pygit2.Repository, *, base: str | None, ours: str, theirs: str) -> Merged:
    """Merge commit `theirs` into commit `ours` from their common ancestor `base`."""
    ancestor = _commit(repo, base).tree if base else repo.TreeBuilder().write()  # empty tree
    index = repo.merge_trees(ancestor, _commit(repo, ours).tree, _commit(repo, theirs).tree)
    if index.conflicts is not None:
        paths = {e.path for entries in index.conflicts for e in entries if e is not None}
        return Merged(None, sorted(paths))
    return Merged(str(index.write_tree(repo)), [])


def commits_between(repo: pygit2.Repository, *, base: str | None, head: str) -> list[pygit2.Commit]:
    """The commits of `head` that `base` lacks, oldest first."""
    walker = repo.walk(pygit2.Oid(hex=head), SortMode.TOPOLOGICAL | SortMode.REVERSE)
    if base:
        walker.hide(pygit2.Oid(hex=base))
    return list(walker)


def diff_text(repo: pygit2.Repository, *, old: str | None, new: str) -> str:
    """The unified diff (`git diff old new`) between two commits' trees."""
    if old is None:
        return str(_commit(repo, new).tree.diff_to_tree(swap=True).patch or "")
    return str(repo.diff(_commit(repo, old), _commit(repo, new)).patch or "")


def _commit(repo: pygit2.Repository, oid: str) -> pygit2.Commit:
    found = _peel_commit(repo, oid)
    if found is None:
        raise KeyError(oid)
    return found
