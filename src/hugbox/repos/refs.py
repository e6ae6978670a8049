"""Branches, tags, PR refs and commit history of a repo."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from hugbox.errors import BadRequest, Conflict, Forbidden, RevisionNotFound
from hugbox.names import check_revision
from hugbox.repos import announce
from hugbox.repos.content import resolve_revision
from hugbox.repos.models import Repo
from hugbox.repos.store import RepoStore
from hugbox.storage import git

DEFAULT_BRANCH = "main"


@dataclass(frozen=True)
class GitRef:
    name: str
    ref: str
    target_commit: str


@dataclass(frozen=True)
class GitRefs:
    branches: list[GitRef]
    tags: list[GitRef]
    converts: list[GitRef]
    pull_requests: list[GitRef]


@dataclass(frozen=True)
class GitCommitInfo:
    id: str
    title: str
    message: str
    authors: list[str]
    date: datetime


def list_refs(gitrepo: git.Repository) -> GitRefs:
    def refs(prefix: str) -> list[GitRef]:
        found = []
        for name in git.ref_names(gitrepo, prefix):
            target = git.ref_target(gitrepo, name)
            if target:
                found.append(GitRef(name.removeprefix(prefix), name, target))
        return found

    return GitRefs(
        branches=refs("refs/heads/"),
        tags=refs("refs/tags/"),
        converts=refs("refs/convert/"),
        pull_requests=refs("refs/pr/"),
    )


def _check_ref_name(name: str, what: str) -> None:
    check_revision(name)
    if name.startswith("refs/") or not git.valid_branch_name(name):
        raise BadRequest(f"Invalid reference for a {what}: {name!r}")


# A ref is checked and changed under the repo lock: two requests creating (or deleting) one name
# get one success and one 409 (404), never a libgit2 lock error. The move is recorded and
# announced in the request's transaction, after the lock (see repos/reconcile.py for a crash
# in between).


def create_branch(
    session: Session, store: RepoStore, *, repo: Repo, branch: str, starting_point: str | None,
    exist_ok: bool = False,
) -> None:  # fmt: skip
    _check_ref_name(branch, "branch")
    ref = f"refs/heads/{branch}"
    gitrepo = store.open(repo)
    with store.locked(repo, session):
        if gitrepo.references.get(ref) is not None:
            if exist_ok:
                return
            raise Conflict(f"Reference {ref} already exists")
        _check_nesting(gitrepo, ref)
        start = str(resolve_revision(gitrepo, starting_point or DEFAULT_BRANCH).id)
        git.set_ref(gitrepo, ref, start, old=None)
    announce.ref_moved(session, repo, ref=ref, old=None, new=start)


def _check_nesting(gitrepo: git.Repository, ref: str) -> None:
    if nested := git.nesting_ref(gitrepo, ref):
        raise Conflict(f"Reference {ref} cannot exist beside the existing {nested}")


def create_pr_ref(session: Session, store: RepoStore, *, repo: Repo, num: int) -> None:
    """`refs/pr/<num>` of a pull request opened without commits: at main's head."""
    gitrepo = store.open(repo)
    ref = f"refs/pr/{num}"
    with store.locked(repo, session):
        head = str(resolve_revision(gitrepo, DEFAULT_BRANCH).id)
        git.set_ref(gitrepo, ref, head, old=None)
    announce.ref_moved(session, repo, ref=ref, old=None, new=head)


def delete_branch(session: Session, store: RepoStore, *, repo: Repo, branch: str) -> None:
    if check_revision(branch) == DEFAULT_BRANCH:
        raise Forbidden(f"Cannot delete refs/heads/{DEFAULT_BRANCH}")
    _delete_ref(session, store, repo, ref=f"refs/heads/{branch}", name=branch)


def create_tag(
    session: Session, store: RepoStore, *, repo: Repo, tag: str, revision: str,
    message: str | None, tagger: str,
) -> None:  # fmt: skip
    gitrepo = store.open(repo)
    target = resolve_revision(gitrepo, revision)  # HF judges it (404) before the tag's name
    if " " in tag:
        raise BadRequest(f"Invalid reference for a tag: {tag!r}")
    _check_ref_name(tag, "tag")
    ref = f"refs/tags/{tag}"
    with store.locked(repo, session):
        if gitrepo.references.get(ref) is not None:
            raise Conflict(f"Tag {tag} already exists")
        _check_nesting(gitrepo, ref)
        if message:
            git.create_annotated_tag(
                gitrepo, tag, str(target.id), tagger=tagger,
                email=f"{tagger}@users.noreply.hugbox", message=message,
            )  # fmt: skip
        else:
            git.set_ref(gitrepo, ref, str(target.id), old=None)
    announce.ref_moved(session, repo, ref=ref, old=None, new=str(target.id))


def delete_tag(session: Session, store: RepoStore, *, repo: Repo, tag: str) -> None:
    _delete_ref(session, store, repo, ref=f"refs/tags/{check_revision(tag)}", name=tag)


def _delete_ref(session: Session, store: RepoStore, repo: Repo, *, ref: str, name: str) -> None:
    gitrepo = store.open(repo)
    with store.locked(repo, session):
        old = git.ref_target(gitrepo, ref)
        if gitrepo.references.get(ref) is None:
            raise RevisionNotFound(name)
        git.delete_ref(gitrepo, ref, old=old)
    announce.ref_moved(session, repo, ref=ref, old=old, new=None)


def list_repo_refs(store: RepoStore, repo: Repo) -> GitRefs:
    return list_refs(store.open(repo))


def list_repo_commits(store: RepoStore, repo: Repo, revision: str) -> Iterator[GitCommitInfo]:
    """The history of `revision`, newest first, read as the caller iterates."""
    return iter_commits(store.open(repo), revision)


def iter_commits(gitrepo: git.Repository, revision: str) -> Iterator[GitCommitInfo]:
    head = resolve_revision(gitrepo, revision)
    for commit in git.history(gitrepo, str(head.id)):
        title, _, body = commit.message.partition("\n")
        yield GitCommitInfo(
            id=str(commit.id),
            title=title,
            message=body.strip(),
            authors=[commit.author.name],
            date=git.commit_date(commit),
        )
