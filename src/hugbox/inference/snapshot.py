"""A repo's files at one commit, laid out as a local folder that transformers can load."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from hugbox.errors import UnprocessableEntity
from hugbox.repos import content
from hugbox.repos.store import RepoStore
from hugbox.storage import git

COPY_BUFFER = 1024 * 1024


def materialize(store: RepoStore, gitrepo: git.Repository, commit: git.Commit, root: Path) -> Path:
    """The folder for `commit` under `root`, built once: a commit id fixes its content.

    Large files are hard links into the blob store (no copy), or copies of those it keeps as
    Xet recipes; small ones are written from git.
    """
    target = root / str(commit.id)
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{commit.id}-", dir=root))
    try:
        for entry in content.list_tree(gitrepo, commit, "", recursive=True):
            if isinstance(entry, content.RepoFile):
                _place(store, gitrepo, entry, building / entry.path)
        building.rename(target)
    except OSError as exc:
        shutil.rmtree(building, ignore_errors=True)
        if exc.errno == errno.ENAMETOOLONG:  # a git push can bring names no file system holds
            raise UnprocessableEntity("A file name in this repo is too long to check out") from exc
        if not target.is_dir():  # another request may have built it meanwhile
            raise
    return target


def _place(store: RepoStore, gitrepo: git.Repository, file: content.RepoFile, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if file.lfs is None:
        dest.write_bytes(content.read_blob(gitrepo, file.blob_id))
        return
    # A hard link to the cached copy of a bucket's object outlives the copy's eviction.
    source = store.blobs.cached_path(file.lfs.oid)
    if source is None:  # a Xet recipe (or missing: FileNotFoundError): decoded into a copy
        with store.blobs.open(file.lfs.oid) as handle, dest.open("wb") as out:
            shutil.copyfileobj(handle, out, COPY_BUFFER)
        return
    try:
        os.link(source, dest)
    except OSError:  # another filesystem: copy instead
        shutil.copyfile(source, dest)
