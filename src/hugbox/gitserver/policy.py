"""What a push may do: which refs it may move, and what the objects it brings may hold.

Runs inside the pre-receive hook, where git has put the pushed objects in a quarantine that the
`git` commands below see (through the environment git gives the hook) and the refs are unmoved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hugbox.storage import git, gitcli
from hugbox.storage.blobs import BlobStore
from hugbox.storage.gitcli import BlobEntry

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


def admit_all(oids: set[str]) -> set[str]:
    return oids


@dataclass(frozen=True)
class Rules:
    blobs: BlobStore
    max_file: int  # bytes a file not stored with LFS may have
    default_branch: str
    # Which of the LFS objects that pointers name the pusher may name (repos/objects.py).
    admit: Callable[[set[str]], set[str]] = admit_all
    writer: bool = True  # whether the pusher may write the repo's branches and tags
    pr_refs: frozenset[str] = frozenset()  # the open PRs' refs the pusher may move


def ref_problem(
    update: RefUpdate, current: str | None, default_branch: str, *, writer: bool = True,
    pr_refs: frozenset[str] = frozenset(),
) -> str | None:  # fmt: skip
    ref = update.ref
    if ref in pr_refs:  # an open PR's ref: its author and writers push to it, never delete it
        if update.deleting:
            return f"{ref}: a pull request's ref cannot be deleted"
        return _moved_problem(update, current)
    if ref.startswith(_HUB_REFS):
        return (
            f"{ref}: refs/pr/* and refs/convert/* are written by the hub; open a pull request "
            "(its author and the repo's writers push to it while it is open)"
        )
    if not ref.startswith(("refs/heads/", "refs/tags/")):
        return f"{ref}: only branches (refs/heads/*) and tags (refs/tags/*) can be pushed"
    if not writer:
        return f"{ref}: you may not write to this repo: push to a pull request (refs/pr/<num>)"
    if update.deleting and ref == f"refs/heads/{default_branch}":
        return f"Cannot delete refs/heads/{default_branch}"
    return _moved_problem(update, current)


def _moved_problem(update: RefUpdate, current: str | None) -> str | None:
    if (current or ZERO) != update.old:
        # Also what keeps concurrent writers honest: refs only move under the repo lock.
        return (
            f"{update.ref} was updated since you fetched it (by another push or an API commit): "
            "fetch, merge or rebase, and push again"
        )
    return None


def check_push(git_dir: Path, updates: Sequence[RefUpdate], rules: Rules) -> Verdict:
    verdict = Verdict()
    current = current_refs(git_dir)
    for update in updates:
        problem = ref_problem(
            update, current.get(update.ref), rules.default_branch, writer=rules.writer,
            pr_refs=rules.pr_refs,
        )  # fmt: skip
        if problem:
            verdict.problems.append(problem)
    tips = [u.new for u in updates if not u.deleting]
    if tips and not verdict.problems:
        _check_blobs(git_dir, gitcli.blobs_reachable(git_dir, tips, new_only=True), rules, verdict)
    return verdict


def current_refs(git_dir: Path) -> dict[str, str]:
    out = gitcli.run(git_dir, "for-each-ref", "--format=%(objectname) %(refname)")
    return {ref: oid for oid, ref in (line.split(" ", 1) for line in out.decode().splitlines())}


def _check_blobs(git_dir: Path, found: Iterator[BlobEntry], rules: Rules, verdict: Verdict) -> None:
    small = []
    for blob in found:
        if blob.size <= git.LFS_POINTER_MAX:
            small.append(blob)
        elif blob.size > rules.max_file:
            verdict.problems.append(
                f"{blob.path}: {blob.size} bytes, over the limit of {rules.max_file} bytes for "
                "files not stored with git-lfs: `git lfs track` it (or `git lfs migrate import`)"
            )
    named = {pointer.oid: (blob, pointer) for blob, pointer in gitcli.lfs_pointers(git_dir, small)}
    admitted = rules.admit(set(named)) if named else set()
    for oid, (blob, pointer) in named.items():
        if oid not in admitted or rules.blobs.size(oid) != pointer.size:
            # An object the pusher did not upload reads as missing, whether or not it exists.
            verdict.problems.append(
                f"{blob.path}: LFS object {oid} was never uploaded: "
                "install git-lfs (`git lfs install`) and push again"
            )
        verdict.pointers[oid] = pointer.size
