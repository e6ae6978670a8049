"""What the web pages show of a repo: overview, folder listings, file previews, diffs.

Plain functions over the same readers the API uses (content, refs, indexer), so a page and the
JSON API always agree.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.auth.service import Caller
from hugbox.errors import BadRequest, EntryNotFound, RevisionNotFound
from hugbox.repos import content, indexer, refs, service
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.store import RepoStore
from hugbox.storage import git

TEXT_PREVIEW_LIMIT = 1024 * 1024  # larger text files are offered as downloads only
SAFETENSORS_HEADER_LIMIT = 100 * 1024 * 1024  # the format's own cap on header size
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".ico")


@dataclass(frozen=True)
class Overview:
    commit_id: str
    date: datetime
    title: str
    author: str
    snapshot: indexer.Snapshot
    files: tuple[content.RepoFile, ...]
    readme: str | None

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def overview(store: RepoStore, repo: Repo, revision: str) -> Overview:
    gitrepo = store.open(repo)
    commit = content.resolve_revision(gitrepo, revision)
    described = indexer.describe(gitrepo, repo.type, commit)
    readme = git.lookup(gitrepo, commit, "README.md")
    text = readme.data.decode("utf-8", "replace") if isinstance(readme, git.Blob) else None
    return Overview(
        commit_id=str(commit.id),
        date=described.date,
        title=commit.message.split("\n", 1)[0],
        author=commit.author.name,
        snapshot=described.snapshot,
        files=described.files,
        readme=text,
    )


@dataclass(frozen=True)
class Folder:
    commit_id: str
    path: str
    entries: list[content.RepoEntry]  # one page of them, folders first
    total: int
    offset: int
    branches: list[str]
    tags: list[str]


def folder(
    store: RepoStore, repo: Repo, revision: str, path: str, *, offset: int = 0, limit: int = 1000
) -> Folder:
    gitrepo = store.open(repo)
    commit = content.resolve_revision(gitrepo, revision)
    path = path.strip("/")
    tree = git.lookup(gitrepo, commit, path)
    if not isinstance(tree, git.Tree):
        raise EntryNotFound(f"No folder {path!r} at {commit.id}", commit=str(commit.id))
    # Sort by name alone, then read only the page: a 10,000-file folder costs one page.
    names = sorted(tree, key=lambda e: (e.type_str != "tree", str(e.name).lower()))
    prefix = f"{path}/" if path else ""
    page = [
        _item(gitrepo, prefix, e)
        for e in names[offset : offset + limit]
        if e.type_str in ("tree", "blob")  # submodules have no content here
    ]
    found = refs.list_refs(gitrepo)
    return Folder(
        commit_id=str(commit.id),
        path=path,
        entries=[content.tree_entry(gitrepo, item) for item in page],
        total=len(names),
        offset=offset,
        branches=[r.name for r in found.branches],
        tags=[r.name for r in found.tags],
    )


def _item(gitrepo: git.Repository, prefix: str, entry: git.Object) -> git.TreeItem:
    folder = entry.type_str == "tree"
    size = 0 if folder else gitrepo.odb.read_header(entry.id)[1]  # the header, not the content
    return git.TreeItem(prefix + str(entry.name), folder, str(entry.id), size)


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: list[int]

    @property
    def parameters(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count


@dataclass(frozen=True)
class FileView:
    commit_id: str
    file: content.RepoFile
    text: str | None = None  # set for text files small enough to show
    is_image: bool = False
    tensors: list[TensorInfo] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def parameters(self) -> int:
        return sum(t.parameters for t in self.tensors)


def file_view(store: RepoStore, repo: Repo, revision: str, path: str) -> FileView:
    gitrepo = store.open(repo)
    commit = content.resolve_revision(gitrepo, revision)
    file = content.get_file(gitrepo, commit, path)
    commit_id = str(commit.id)
    lowered = path.lower()
    if lowered.endswith(IMAGE_SUFFIXES):
        return FileView(commit_id, file, is_image=True)
    if lowered.endswith(".safetensors"):
        tensors, metadata = safetensors_header(store, gitrepo, file)
        return FileView(commit_id, file, tensors=tensors, metadata=metadata)
    if file.lfs is not None or file.size > TEXT_PREVIEW_LIMIT:
        return FileView(commit_id, file)
    data = content.read_blob(gitrepo, file.blob_id)
    if b"\x00" in data[:8000]:
        return FileView(commit_id, file)
    return FileView(commit_id, file, text=data.decode("utf-8", "replace"))


def _head_bytes(store: RepoStore, gitrepo: git.Repository, file: content.RepoFile, n: int) -> bytes:
    """The first `n` bytes of a file, reading no more than that from the blob store."""
    if file.lfs is None:
        return content.read_blob(gitrepo, file.blob_id)[:n]
    with store.blobs.open(file.lfs.oid) as handle:
        return handle.read(n)


def safetensors_header(
    store: RepoStore, gitrepo: git.Repository, file: content.RepoFile
) -> tuple[list[TensorInfo], dict[str, str]]:
    """Tensor names, dtypes and shapes from the JSON header alone (never the weights)."""
    try:
        (length,) = struct.unpack("<Q", _head_bytes(store, gitrepo, file, 8))
        if length > SAFETENSORS_HEADER_LIMIT or length > file.size - 8:
            raise ValueError("header length out of range")
        header = json.loads(_head_bytes(store, gitrepo, file, 8 + length)[8:])
    except (OSError, ValueError, struct.error) as exc:
        raise BadRequest(f"{file.path} is not a readable safetensors file: {exc}") from exc
    metadata = header.pop("__metadata__", None) or {}
    tensors = [
        TensorInfo(name, str(info.get("dtype")), [int(d) for d in info.get("shape", [])])
        for name, info in header.items()
        if isinstance(info, dict)
    ]
    return tensors, {str(k): str(v) for k, v in metadata.items()}


def history(
    store: RepoStore, repo: Repo, revision: str, *, offset: int, limit: int
) -> list[refs.GitCommitInfo]:
    found = []
    for index, item in enumerate(refs.list_repo_commits(store, repo, revision)):
        if index >= offset + limit:
            break
        if index >= offset:
            found.append(item)
    return found


@dataclass(frozen=True)
class FileDiff:
    old_path: str
    new_path: str
    status: str  # added | deleted | modified | renamed
    binary: bool
    patch: str  # unified diff text of text files


@dataclass(frozen=True)
class CommitView:
    info: refs.GitCommitInfo
    parents: list[str]
    files: list[FileDiff]


_STATUS = {"A": "added", "D": "deleted", "M": "modified", "R": "renamed"}


def commit_view(store: RepoStore, repo: Repo, commit_id: str) -> CommitView:
    gitrepo = store.open(repo)
    commit = git.resolve(gitrepo, commit_id)
    if commit is None:
        raise RevisionNotFound(commit_id)
    parent = commit.parents[0] if commit.parents else None
    diff = (
        gitrepo.diff(parent, commit, context_lines=3)
        if parent
        else commit.tree.diff_to_tree(swap=True, context_lines=3)
    )
    files = _file_diffs(diff)
    title, _, body = commit.message.partition("\n")
    info = refs.GitCommitInfo(
        str(commit.id), title, body.strip(), [commit.author.name], git.commit_date(commit)
    )
    return CommitView(info=info, parents=[str(p.id) for p in commit.parents], files=files)


@dataclass(frozen=True)
class Facets:
    tasks: list[str]
    libraries: list[str]


def facets(session: Session, repo_type: RepoType) -> Facets:
    """The tasks and libraries that public repos of a type use (for the explore filters)."""
    public = (Repo.type == repo_type, Repo.private.is_(False))
    tasks = session.scalars(select(Repo.pipeline_tag).where(*public).distinct())
    libraries = session.scalars(select(Repo.library_name).where(*public).distinct())
    return Facets(sorted(t for t in tasks if t), sorted(lib for lib in libraries if lib))


def explore(
    session: Session,
    *,
    caller: Caller,
    hidden_owners: Collection[int],
    query: service.RepoQuery,
    page: int,
    page_size: int,
) -> tuple[list[Repo], bool]:
    """One page of repos, and whether another follows."""
    found = service.list_repos(
        session,
        caller=caller,
        hidden_owners=hidden_owners,
        query=query,
        offset=page * page_size,
        page_size=page_size + 1,
    )
    return found[:page_size], len(found) > page_size


def _file_diffs(diff: Iterable[Any]) -> list[FileDiff]:
    files = []
    for patch in diff:
        if patch is None:
            continue
        delta = patch.delta
        binary = bool(delta.is_binary)
        files.append(
            FileDiff(
                old_path=delta.old_file.path,
                new_path=delta.new_file.path,
                status=_STATUS.get(delta.status_char(), "modified"),
                binary=binary,
                patch="" if binary else (patch.text or "")[:200_000],
            )
        )
    return files


def compare_files(store: RepoStore, repo: Repo, old: str | None, new: str) -> list[FileDiff]:
    """What changed from commit `old` (None: nothing) to commit `new`, file by file (a pull
    request's "Files changed")."""
    gitrepo = store.open(repo)
    head = git.resolve(gitrepo, new)
    if head is None:
        raise RevisionNotFound(new)
    base = git.resolve(gitrepo, old) if old else None
    diff = (
        gitrepo.diff(base, head, context_lines=3)
        if base
        else head.tree.diff_to_tree(swap=True, context_lines=3)
    )
    return _file_diffs(diff)
