"""A commit's files written out as a plain directory, for the work that needs files on disk
(the viewer's conversion, a space's app)."""

from __future__ import annotations

import shutil
from pathlib import Path

from hugbox.storage import git
from hugbox.storage.blobs import BlobStore


def checkout(
    gitrepo: git.Repository, commit: git.Commit, blobs: BlobStore, dest: Path,
    *, link_large: bool = True,
) -> None:  # fmt: skip
    """Write the commit's files under `dest`. Large files are symlinked from the blob store when
    `link_large` (cheap, for readers on this host) and copied otherwise (a sandbox sees no
    blob store)."""
    for item in git.walk(gitrepo, commit.tree, "", recursive=True):
        target = dest / item.path
        if item.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        obj = gitrepo.get(item.oid)
        assert isinstance(obj, git.Blob)
        pointer = git.parse_lfs_pointer(obj.data) if obj.size <= git.LFS_POINTER_MAX else None
        target.parent.mkdir(parents=True, exist_ok=True)
        if pointer is None:
            target.write_bytes(obj.data)
        # Only the store's own files: a symlink into the bucket store's cache would dangle
        # once that copy is evicted, so those are copied like Xet recipes.
        elif link_large and (local := blobs.local_path(pointer.oid)) is not None:
            target.symlink_to(local)
        elif blobs.exists(pointer.oid):
            with blobs.open(pointer.oid) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink)
