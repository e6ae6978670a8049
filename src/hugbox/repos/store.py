"""Where a repo's bytes live: its bare git repo and the shared large-file store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from sqlalchemy.orm import Session

from hugbox.db import lock_in_transaction
from hugbox.errors import Conflict, RepoNotFound
from hugbox.repos.models import Repo, RepoFields
from hugbox.storage import git
from hugbox.storage.blobs import BlobStore


class RepoStore:
    """Maps repos to their git directories; holds the blob store. One per process."""

    def __init__(self, *, repos_dir: Path, blobs: BlobStore, tmp_dir: Path):
        self.repos_dir = repos_dir
        self.blobs = blobs
        self.tmp_dir = tmp_dir
        self._readers = git.OpenRepos()
        git.enable_fsync()  # process-wide; every process that writes repos builds a store
        repos_dir.mkdir(parents=True, exist_ok=True)
        tmp_dir.mkdir(parents=True, exist_ok=True)

    def git_dir(self, repo: RepoFields) -> Path:
        return self.repos_dir / repo.git_dir_name

    def open(self, repo: Repo) -> git.Repository:
        git_dir = self.git_dir(repo)
        try:
            return git.open_repo(git_dir)
        except git.GitError:
            if git_dir.is_dir():
                raise
            raise RepoNotFound(anonymous=False) from None  # deleted since its row was read

    def reader(self, repo: RepoFields) -> git.Repository:
        """`open(repo)` for routes that only read, from a few kept open in this thread: the
        most frequent calls (repo info, file downloads) read little, and opening cost more."""
        try:
            return self._readers.open(self.git_dir(repo))
        except FileNotFoundError:
            raise RepoNotFound(anonymous=False) from None  # deleted since its row was read

    @contextmanager
    def locked(self, repo: Repo, session: Session) -> Iterator[None]:
        """The repo's write lock for the block. On PostgreSQL it is the database's lock on the
        repo, taken in `session`'s transaction and held until that ends, so writers on every
        replica wait for each other and for what the writer records after moving a ref; on
        SQLite, a file lock in the repo for the block. A repo deleted meanwhile is not found; a
        ref that moved under a writer despite the lock (whose connection died) is a conflict."""
        try:
            with git.locked(self.git_dir(repo), _database_lock(session, repo)):
                yield
        except git.RepoGone:
            raise RepoNotFound(anonymous=False) from None
        except git.RefMoved as exc:
            raise Conflict(f"{exc} moved meanwhile: try again") from exc

    def remove(self, repo: Repo, session: Session) -> None:
        """Delete the repo's git directory after the writers in flight; blobs stay."""
        git.remove(self.git_dir(repo), _database_lock(session, repo))

    def init(self, repo: Repo) -> git.Repository:
        return git.init_bare(self.git_dir(repo))


def _database_lock(session: Session, repo: Repo) -> AbstractContextManager[None] | None:
    """The repo's lock, taken now in `session`'s transaction; None without such a lock."""
    return nullcontext() if lock_in_transaction(session, f"repo:{repo.pk}") else None
