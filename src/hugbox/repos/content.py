"""Reading a repo at a revision: resolve it, list trees, find files (HF's RepoFile, RepoFolder)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from hugbox.errors import EntryNotFound, RevisionNotFound
from hugbox.names import check_revision, has_control
from hugbox.storage import git

_SPECIAL_REF = re.compile(r"^(refs/(?:pr/\d+|convert/[\w-]+))(?:/(.*))?$")


@dataclass(frozen=True)
class LastCommit:
    id: str
    title: str
    date: datetime


@dataclass(frozen=True)
class RepoFile:
    path: str
    blob_id: str  # git blob sha1 (of the pointer, for LFS files)
    size: int  # real size, also for LFS files
    lfs: git.LfsPointer | None = None
    last_commit: LastCommit | None = None


@dataclass(frozen=True)
class RepoFolder:
    path: str
    tree_id: str
    last_commit: LastCommit | None = None


RepoEntry = RepoFile | RepoFolder


def split_special_ref(revision: str, path: str) -> tuple[str, str]:
    """Accept `refs/pr/1` unencoded in the revision slot of a file URL, as HF does."""
    if revision != "refs":
        return revision, path
    match = _SPECIAL_REF.match(f"refs/{path}")
    if match is None:
        return revision, path
    return match[1], match[2] or ""


def resolve_revision(gitrepo: git.Repository, revision: str) -> git.Commit:
    commit = git.resolve(gitrepo, check_revision(revision))
    if commit is None:
        raise RevisionNotFound(revision)
    return commit


def _file(gitrepo: git.Repository, path: str, blob: git.Blob) -> RepoFile:
    pointer = git.parse_lfs_pointer(blob.data) if blob.size <= git.LFS_POINTER_MAX else None
    size = pointer.size if pointer else blob.size
    return RepoFile(path=path, blob_id=str(blob.id), size=size, lfs=pointer)


def _entry(gitrepo: git.Repository, item: git.TreeItem) -> RepoEntry:
    if item.is_dir:
        return RepoFolder(path=item.path, tree_id=item.oid)
    return _file_of(gitrepo, item)


def _file_of(gitrepo: git.Repository, item: git.TreeItem) -> RepoFile:
    if item.size > git.LFS_POINTER_MAX:  # too big to be a pointer: no need to read it
        return RepoFile(path=item.path, blob_id=item.oid, size=item.size)
    blob = gitrepo.get(item.oid)
    assert isinstance(blob, git.Blob)
    return _file(gitrepo, item.path, blob)


def tree_entry(gitrepo: git.Repository, item: git.TreeItem) -> RepoEntry:
    """One entry of a listing (LFS pointers read only for blobs small enough to be one)."""
    return _entry(gitrepo, item)


def _lookup(gitrepo: git.Repository, commit: git.Commit, path: str) -> git.Object | None:
    # libgit2 would read `a\x00b` as `a`; no committed path holds a control character.
    return None if has_control(path) else git.lookup(gitrepo, commit, path)


def list_tree(
    gitrepo: git.Repository, commit: git.Commit, path: str, *, recursive: bool
) -> list[RepoEntry]:
    path = path.strip("/")
    obj = _lookup(gitrepo, commit, path)
    if obj is None:
        raise EntryNotFound(f"Entry not found: {path}", commit=str(commit.id))
    if isinstance(obj, git.Blob):
        return [_file(gitrepo, path, obj)]
    assert isinstance(obj, git.Tree)
    return [_entry(gitrepo, item) for item in git.walk(gitrepo, obj, path, recursive=recursive)]


def paths_info(
    gitrepo: git.Repository, commit: git.Commit, paths: Iterable[str]
) -> list[RepoEntry]:
    entries: list[RepoEntry] = []
    for path in dict.fromkeys(p.strip("/") for p in paths):
        obj = _lookup(gitrepo, commit, path) if path else None
        if isinstance(obj, git.Blob):
            entries.append(_file(gitrepo, path, obj))
        elif isinstance(obj, git.Tree):
            entries.append(RepoFolder(path=path, tree_id=str(obj.id)))
    return entries


def get_file(gitrepo: git.Repository, commit: git.Commit, path: str) -> RepoFile:
    """The file at `path`; its content is read only if it may be an LFS pointer."""
    # libgit2 would read `a\x00b` as `a`; no committed path holds a control character.
    found = git.find_item(gitrepo, commit, path) if path and not has_control(path) else None
    if found is None or found.is_dir:
        raise EntryNotFound(f"Entry not found: {path}", commit=str(commit.id))
    return _file_of(gitrepo, found)


def read_blob(gitrepo: git.Repository, blob_id: str) -> bytes:
    blob = gitrepo.get(blob_id)
    assert isinstance(blob, git.Blob)
    return bytes(blob.data)


def with_last_commits(
    gitrepo: git.Repository, commit: git.Commit, entries: list[RepoEntry]
) -> list[RepoEntry]:
    """Attach the last commit that touched each entry (walks history; used for small pages)."""
    wanted = {e.path: (e.blob_id if isinstance(e, RepoFile) else e.tree_id) for e in entries}
    found: dict[str, LastCommit] = {}
    for current in git.history(gitrepo, str(commit.id)):
        parent = current.parents[0] if current.parents else None
        for path in [p for p in wanted if p not in found]:
            before = git.lookup(gitrepo, parent, path) if parent else None
            if before is None or str(before.id) != wanted[path]:
                found[path] = _last_commit(current)
        if len(found) == len(wanted):
            break
    return [_replace_last_commit(e, found.get(e.path)) for e in entries]


def _last_commit(commit: git.Commit) -> LastCommit:
    return LastCommit(str(commit.id), commit.message.split("\n", 1)[0], git.commit_date(commit))


def _replace_last_commit(entry: RepoEntry, last: LastCommit | None) -> RepoEntry:
    if isinstance(entry, RepoFile):
        return RepoFile(entry.path, entry.blob_id, entry.size, entry.lfs, last)
    return RepoFolder(entry.path, entry.tree_id, last)
