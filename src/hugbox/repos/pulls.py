"""The git side of pull requests: a PR's commits, diff and conflicts against its base branch,
and its merge as one squash commit on that branch (as HF merges)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from hugbox.auth.models import Account
from hugbox.errors import BadRequest, Conflict
from hugbox.events import service as events
from hugbox.repos import announce, indexer
from hugbox.repos.models import Repo
from hugbox.repos.service import author_email
from hugbox.repos.store import RepoStore
from hugbox.storage import git


@dataclass(frozen=True)
class PrCommit:
    oid: str
    subject: str
    author_name: str
    author_email: str
    date: datetime
    parents: list[str]


@dataclass(frozen=True)
class PrState:
    """Where a PR stands: its head, the base branch's head, their common ancestor, the PR's
    own commits (oldest first) and the files a merge would conflict on."""

    head: str | None
    base_head: str | None
    merge_base: str | None
    commits: list[PrCommit]
    conflicts: list[str]


def pr_ref(num: int) -> str:
    return f"refs/pr/{num}"


def pr_state(store: RepoStore, repo: Repo, *, num: int, base_ref: str, merging: bool) -> PrState:
    """`merging`: whether to work out the conflicts (only an open PR can still be merged)."""
    gitrepo = store.open(repo)
    head, base_head = git.ref_target(gitrepo, pr_ref(num)), git.ref_target(gitrepo, base_ref)
    if head is None:
        return PrState(None, base_head, None, [], [])
    ancestor = git.merge_base(gitrepo, head, base_head) if base_head else None
    found = git.commits_between(gitrepo, base=ancestor, head=head)
    conflicts: list[str] = []
    if merging and base_head and found:
        conflicts = git.merge_trees(gitrepo, base=ancestor, ours=base_head, theirs=head).conflicts
    return PrState(head, base_head, ancestor, [_pr_commit(c) for c in found], conflicts)


def _pr_commit(commit: git.Commit) -> PrCommit:
    return PrCommit(
        oid=str(commit.id), subject=commit.message.partition("\n")[0],
        author_name=commit.author.name, author_email=commit.author.email,
        date=git.commit_date(commit), parents=[str(p) for p in commit.parent_ids],
    )  # fmt: skip


def pr_diff(store: RepoStore, repo: Repo, state: PrState) -> str:
    """What the PR changes: its head against the common ancestor with its base."""
    if state.head is None or not state.commits:
        return ""
    return git.diff_text(store.open(repo), old=state.merge_base, new=state.head)


def merge_pr(
    session: Session, store: RepoStore, *, repo: Repo, num: int, title: str, base_ref: str,
    merger: Account,
) -> str:  # fmt: skip
    """Squash the PR onto its base branch; returns the new commit. Refused when the PR brings
    nothing or conflicts with what the branch gained since."""
    gitrepo = store.open(repo)
    with store.locked(repo, session):
        state = pr_state(store, repo, num=num, base_ref=base_ref, merging=True)
        if state.head is None or state.base_head is None or not state.commits:
            raise BadRequest(f"Pull request #{num} has no commits to merge")
        if state.conflicts:
            raise Conflict(f"Pull request #{num} conflicts with {base_ref}: "
                           + ", ".join(state.conflicts[:20]))  # fmt: skip
        merged = git.merge_trees(
            gitrepo, base=state.merge_base, ours=state.base_head, theirs=state.head
        )
        assert merged.tree_oid is not None  # no conflicts, checked above
        oid = git.write_commit(
            gitrepo, tree_oid=merged.tree_oid, parents=[state.base_head],
            author_name=merger.name, author_email=author_email(merger),
            message=squash_message(title, num, state.commits),
        )  # fmt: skip
        git.set_ref(gitrepo, base_ref, oid, old=state.base_head)
    if base_ref == events.MAIN_REF:
        indexer.refresh(session, store, repo)
    announce.ref_moved(session, repo, ref=base_ref, old=state.base_head, new=oid)
    return oid


def squash_message(title: str, num: int, commits: list[PrCommit]) -> str:
    """HF's squash message: `<title> (#N)`, one line per PR commit, a trailer per author."""
    lines = [f"{title} (#{num})", ""]
    lines += [f"- {c.subject} ({c.oid})" for c in commits]
    authors = dict.fromkeys(f"{c.author_name} <{c.author_email}>" for c in commits)
    return "\n".join([*lines, "", *(f"Co-authored-by: {a}" for a in authors)]) + "\n"
