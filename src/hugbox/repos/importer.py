"""`hugbox import`: turn a local folder into a repo in one commit, large files into LFS."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from hugbox.auth.service import Caller
from hugbox.repos import commits, lfs_index, service
from hugbox.repos import objects as repo_objects
from hugbox.repos.gitattributes import default_gitattributes, lfs_patterns
from hugbox.repos.models import LfsObject, Repo, RepoType
from hugbox.repos.payload import AddFile, AddLfsFile, CommitHeader, Operation, SpooledFile
from hugbox.repos.store import RepoStore

Progress = Callable[[int], None]
_COPY_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class ImportPlan:
    files: list[tuple[str, Path, int]]  # (path in repo, local path, size)

    @property
    def total_bytes(self) -> int:
        return sum(size for _, _, size in self.files)


def plan_import(folder: Path) -> ImportPlan:
    """Every file under `folder`, except git's own and hidden caches."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    files = []
    for local in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = local.relative_to(folder).as_posix()
        if rel.split("/")[0] in (".git", ".cache", ".huggingface"):
            continue
        files.append((rel, local, local.stat().st_size))
    return ImportPlan(files)


def import_folder(
    session: Session,
    store: RepoStore,
    *,
    caller: Caller,
    repo_type: RepoType,
    repo_id: str,
    plan: ImportPlan,
    private: bool = False,
    on_bytes: Progress = lambda _n: None,
) -> tuple[Repo, str]:
    """Create the repo if needed and commit the folder's files to main; returns the commit id."""
    namespace, _, name = repo_id.partition("/")
    found = service.find_repo(session, repo_type, repo_id)
    repo = found if isinstance(found, Repo) else None
    if repo is None:
        repo = service.create_repo(
            session, store, caller=caller, repo_type=repo_type, namespace=namespace, name=name,
            private=private, sdk="static" if repo_type is RepoType.SPACE else None,
        )  # fmt: skip
    attributes = next((p for rel, p, _ in plan.files if rel == ".gitattributes"), None)
    text = attributes.read_text() if attributes else default_gitattributes(repo_type.value)
    patterns = lfs_patterns(text)
    objects: list[LfsObject] = []
    operations = [
        _operation(store, rel, p, size, patterns, on_bytes, objects) for rel, p, size in plan.files
    ]
    if caller.user is not None:  # read from the operator's own files: they hold these bytes
        for obj in objects:
            uploader = caller.user.id
            repo_objects.record_upload(session, repo_pk=repo.pk, user_id=uploader, oid=obj.oid)
    info = commits.create_commit(
        session, store, caller=caller, repo=repo, revision="main",
        header=CommitHeader(summary="Import files with hugbox import", description="",
                            parent_commit=None),
        operations=operations, create_pr=False,
    )  # fmt: skip
    lfs_index.record(session, objects)
    return repo, info.oid


def _operation(
    store: RepoStore, rel: str, local: Path, size: int, patterns: tuple[str, ...],
    on_bytes: Progress, objects: list[LfsObject],
) -> Operation:  # fmt: skip
    if rel == ".gitattributes" or not commits.wants_lfs(rel, size, patterns):
        on_bytes(size)
        # Regular files are read straight into git; the local file is never moved.
        return AddFile(rel, SpooledFile(path=local, size=size, sha256=""))
    writer = store.blobs.writer()
    # The git blob id of the content, computed in the same pass, lets clients that upload
    # inline see later that the file is unchanged.
    git_id = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    try:
        with local.open("rb") as handle:
            while chunk := handle.read(_COPY_CHUNK):
                writer.write(chunk)
                git_id.update(chunk)
                on_bytes(len(chunk))
        oid = writer.commit(expected_size=size)
    except BaseException:
        writer.abort()
        raise
    objects.append(LfsObject(oid=oid, size=size, git_oid=git_id.hexdigest()))
    return AddLfsFile(rel, oid, size)
