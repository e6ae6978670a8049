"""Bulk reads of a bare repo with git's own batch commands: listing and reading thousands of
blobs this way is far faster than walking trees object by object through pygit2."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from hugbox.storage import git


@dataclass(frozen=True)
class BlobEntry:
    oid: str
    size: int
    path: str


def blobs_reachable(git_dir: Path, tips: Sequence[str], *, new_only: bool) -> Iterator[BlobEntry]:
    """Blobs reachable from `tips` (revisions, or `--all`); with `new_only`, from no ref."""
    listed = run(git_dir, "rev-list", "--objects", *tips, *(["--not", "--all"] if new_only else []))
    checked = run(
        git_dir,
        "cat-file",
        "--batch-check=%(objecttype) %(objectname) %(objectsize) %(rest)",
        stdin=listed,
    )
    for line in checked.decode("utf-8", "replace").splitlines():
        kind, oid, size, path = [*line.split(" ", 3), ""][:4]
        if kind == "blob":
            yield BlobEntry(oid, int(size), path)


def read_blobs(git_dir: Path, oids: Sequence[str]) -> list[bytes]:
    if not oids:
        return []
    out = run(git_dir, "cat-file", "--batch", stdin="\n".join(oids).encode() + b"\n")
    contents, at = [], 0
    for _ in oids:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split()[2])
        contents.append(out[header_end + 1 : header_end + 1 + size])
        at = header_end + 1 + size + 1
    return contents


def lfs_pointers(
    git_dir: Path, blobs: Sequence[BlobEntry]
) -> list[tuple[BlobEntry, git.LfsPointer]]:
    """The LFS pointers among `blobs`, with the blob that holds each."""
    small = [b for b in blobs if b.size <= git.LFS_POINTER_MAX]
    found = []
    for blob, data in zip(small, read_blobs(git_dir, [b.oid for b in small]), strict=True):
        pointer = git.parse_lfs_pointer(data)
        if pointer is not None:
            found.append((blob, pointer))
    return found


def referenced_objects(git_dir: Path) -> set[str]:
    """The sha256 of every large file that some ref of the repo reaches."""
    blobs = list(blobs_reachable(git_dir, ["--all"], new_only=False))
    return {pointer.oid for _blob, pointer in lfs_pointers(git_dir, blobs)}


def run(git_dir: Path, *args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["git", "--git-dir", str(git_dir), *args], input=stdin, capture_output=True, check=True
    )
    return done.stdout
