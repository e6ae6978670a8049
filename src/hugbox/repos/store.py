"""Where a repo's bytes live: its bare git repo and the shared large-file store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hugbox.errors import RepoNotFound
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
    def locked(self, repo: Repo) -> Iterator[None]:
        """The repo's write lock; a repo deleted meanwhile is not found."""
        try:
            with git.locked(self.git_dir(repo)):
                yield
        except git.RepoGone:
            raise RepoNotFound(anonymous=False) from None

    def remove(self, repo: Repo) -> None:
        """Delete the repo's git directory after the writers in flight; blobs stay."""
        git.remove(self.git_dir(repo))

    def init(self, repo: Repo) -> git.Repository:
        return git.init_bare(self.git_dir(repo))
