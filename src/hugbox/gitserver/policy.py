"""What a push may do: which refs it may move, and what the objects it brings may hold.

Runs inside the pre-receive hook, where git has put the pushed objects in a quarantine that the
`git` commands below see (through the environment git gives the hook) and the refs are unmoved.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hugbox.storage import git
from hugbox.storage.blobs import BlobStore

ZERO = "0" * 40
_HUB_REFS = ("refs/pr/", "refs/convert/")


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    ref: str

    @property
    def deleting(self) -> bool:
        return self.new == ZERO


@dataclass(frozen=True)
class NewBlob:
    oid: str
    size: int
    path: str


@dataclass
class Verdict:
    """Why the push is refused (nothing: accepted), and the LFS objects its files point to."""

    problems: list[str] = field(default_factory=list)
    pointers: dict[str, int] = field(default_factory=dict)


def parse_updates(text: str) -> list[RefUpdate]:
    """pre-receive's stdin: one `<old> <new> <ref>` line per ref."""
    updates = []
    for line in text.splitlines():
        old, new, ref = line.split(" ", 2)
        updates.append(RefUpdate(old, new, ref))
    return updates


@dataclass(frozen=True)
class Rules:
    blobs: BlobStore
    max_file: int  # bytes a file not stored with LFS may have
    default_branch: str


def ref_problem(update: RefUpdate, current: str | None, default_branch: str) -> str | None:
    ref = update.ref
    if ref.startswith(_HUB_REFS):
        return f"{ref}: refs/pr/* and refs/convert/* are written by the hub; open a pull request"
    if not ref.startswith(("refs/heads/", "refs/tags/")):
        return f"{ref}: only branches (refs/heads/*) and tags (refs/tags/*) can be pushed"
    if update.deleting and ref == f"refs/heads/{default_branch}":
        return f"Cannot delete refs/heads/{default_branch}"
    if (current or ZERO) != update.old:
        # Also what keeps concurrent writers honest: refs only move under the repo lock.
        return (
            f"{ref} was updated since you fetched it (by another push or an API commit): "
            "fetch, merge or rebase, and push again"
        )
    return None


def check_push(git_dir: Path, updates: Sequence[RefUpdate], rules: Rules) -> Verdict:
    verdict = Verdict()
    current = current_refs(git_dir)
    for update in updates:
        problem = ref_problem(update, current.get(update.ref), rules.default_branch)
        if problem:
            verdict.problems.append(problem)
    tips = [u.new for u in updates if not u.deleting]
    if tips and not verdict.problems:
        _check_blobs(git_dir, new_blobs(git_dir, tips), rules, verdict)
    return verdict


def current_refs(git_dir: Path) -> dict[str, str]:
    out = _git(git_dir, "for-each-ref", "--format=%(objectname) %(refname)")
    return {ref: oid for oid, ref in (line.split(" ", 1) for line in out.decode().splitlines())}


def new_blobs(git_dir: Path, tips: Sequence[str]) -> Iterator[NewBlob]:
    """Blobs reachable from `tips` and from no ref: what this push adds."""
    listed = _git(git_dir, "rev-list", "--objects", *tips, "--not", "--all")
    checked = _git(
        git_dir,
        "cat-file",
        "--batch-check=%(objecttype) %(objectname) %(objectsize) %(rest)",
        stdin=listed,
    )
    for line in checked.decode("utf-8", "replace").splitlines():
        kind, oid, size, path = [*line.split(" ", 3), ""][:4]
        if kind == "blob":
            yield NewBlob(oid, int(size), path)


def _check_blobs(git_dir: Path, found: Iterator[NewBlob], rules: Rules, verdict: Verdict) -> None:
    small = []
    for blob in found:
        if blob.size <= git.LFS_POINTER_MAX:
            small.append(blob)
        elif blob.size > rules.max_file:
            verdict.problems.append(
                f"{blob.path}: {blob.size} bytes, over the limit of {rules.max_file} bytes for "
                "files not stored with git-lfs: `git lfs track` it (or `git lfs migrate import`)"
            )
    for blob, data in zip(small, read_blobs(git_dir, [b.oid for b in small]), strict=True):
        pointer = git.parse_lfs_pointer(data)
        if pointer is None:
            continue
        if rules.blobs.size(pointer.oid) != pointer.size:
            verdict.problems.append(
                f"{blob.path}: LFS object {pointer.oid} was never uploaded: "
                "install git-lfs (`git lfs install`) and push again"
            )
        verdict.pointers[pointer.oid] = pointer.size


def read_blobs(git_dir: Path, oids: Sequence[str]) -> list[bytes]:
    if not oids:
        return []
    out = _git(git_dir, "cat-file", "--batch", stdin="\n".join(oids).encode() + b"\n")
    contents, at = [], 0
    for _ in oids:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split()[2])
        contents.append(out[header_end + 1 : header_end + 1 + size])
        at = header_end + 1 + size + 1
    return contents


def _git(git_dir: Path, *args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["git", "--git-dir", str(git_dir), *args], input=stdin, capture_output=True, check=True
    )
    return done.stdout
