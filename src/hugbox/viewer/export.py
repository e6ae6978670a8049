"""Publishing converted parquet on `refs/convert/parquet`: large files in the blob store, one
squashed commit on top of the repo's root commit (HF's layout: no data files from `main`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from hugbox.repos.models import Repo
from hugbox.repos.store import RepoStore
from hugbox.storage import git
from hugbox.viewer.models import PARQUET_REF

ATTRIBUTES = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"
AUTHOR = ("parquet-converter", "parquet-converter@users.noreply.hugbox")


@dataclass(frozen=True)
class PublishedFile:
    path: str  # in the ref: `{config}/{split}/0000.parquet`
    oid: str  # sha256 in the blob store
    size: int


def repo_path(config: str, split: str, partial: bool, file: Path) -> str:
    return f"{config}/{'partial-' if partial else ''}{split}/{file.name}"


def store_file(store: RepoStore, path: Path) -> PublishedFile:
    writer = store.blobs.writer()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                writer.write(chunk)
        oid = writer.commit()
    except BaseException:
        writer.abort()
        raise
    return PublishedFile(path="", oid=oid, size=path.stat().st_size)


def publish(
    session: Session, store: RepoStore, repo: Repo, *, revision: str, files: list[PublishedFile]
) -> str:
    """Point the parquet ref at a commit holding exactly `files`; returns its id."""
    gitrepo = store.open(repo)
    puts: list[git.Change] = [git.Put(".gitattributes", git.write_blob(gitrepo, ATTRIBUTES))]
    for file in files:
        pointer = git.lfs_pointer_bytes(file.oid, file.size)
        puts.append(git.Put(file.path, git.write_blob(gitrepo, pointer)))
    tree = git.build_tree(gitrepo, None, puts)
    with store.locked(repo, session):
        oid = git.write_commit(
            gitrepo,
            tree_oid=tree,
            parents=[_root(gitrepo, revision)],
            author_name=AUTHOR[0],
            author_email=AUTHOR[1],
            message=f"Update parquet files (from {revision[:12]})",
        )
        git.set_ref(gitrepo, PARQUET_REF, oid, old=git.ref_target(gitrepo, PARQUET_REF))
    return oid


def _root(gitrepo: git.Repository, revision: str) -> str:
    root = revision
    for commit in git.history(gitrepo, revision):
        if not commit.parents:
            root = str(commit.id)
    return root
