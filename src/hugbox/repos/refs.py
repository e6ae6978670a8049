"""Branches, tags, PR refs and commit history of a repo."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pygit2

from hugbox.errors import BadRequest, Conflict, Forbidden, RevisionNotFound
from hugbox.names import check_revision
from hugbox.repos import store
from hugbox.repos.content import resolve_revision
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


def list_refs(gitrepo: pygit2.Repository) -> GitRefs:
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


def _locked(gitrepo: pygit2.Repository) -> AbstractContextManager[None]:
    """A ref is checked and changed under the repo lock: two requests creating (or deleting)
    one name get one success and one 409 (404), never a libgit2 lock error."""
    return store.locked(Path(gitrepo.path))


def _check_ref_name(name: str, what: str) -> None:
    check_revision(name)
    if name.startswith("refs/") or not pygit2.reference_is_valid_name(f"refs/heads/{name}"):
        raise BadRequest(f"Invalid reference for a {what}: {name!r}")


def create_branch(
    gitrepo: pygit2.Repository, *, branch: str, starting_point: str | None, exist_ok: bool = False
) -> None:
    _check_ref_name(branch, "branch")
    ref = f"refs/heads/{branch}"
    with _locked(gitrepo):
        if gitrepo.references.get(ref) is not None:
            if exist_ok:
                return
            raise Conflict(f"Reference {ref} already exists")
        start = resolve_revision(gitrepo, starting_point or DEFAULT_BRANCH)
        git.set_ref(gitrepo, ref, str(start.id))


def delete_branch(gitrepo: pygit2.Repository, *, branch: str) -> None:
    if check_revision(branch) == DEFAULT_BRANCH:
        raise Forbidden(f"Cannot delete refs/heads/{DEFAULT_BRANCH}")
    ref = f"refs/heads/{branch}"
    with _locked(gitrepo):
        if gitrepo.references.get(ref) is None:
            raise RevisionNotFound(branch)
        git.delete_ref(gitrepo, ref)


def create_tag(
    gitrepo: pygit2.Repository, *, tag: str, revision: str, message: str | None, tagger: str
) -> None:
    target = resolve_revision(gitrepo, revision)  # HF judges it (404) before the tag's name
    if " " in tag:
        raise BadRequest(f"Invalid reference for a tag: {tag!r}")
    _check_ref_name(tag, "tag")
    ref = f"refs/tags/{tag}"
    with _locked(gitrepo):
        if gitrepo.references.get(ref) is not None:
            raise Conflict(f"Tag {tag} already exists")
        if message:
            signature = pygit2.Signature(tagger, f"{tagger}@users.noreply.hugbox")
            gitrepo.create_tag(tag, target.id, pygit2.enums.ObjectType.COMMIT, signature, message)
        else:
            git.set_ref(gitrepo, ref, str(target.id))


def delete_tag(gitrepo: pygit2.Repository, *, tag: str) -> None:
    ref = f"refs/tags/{check_revision(tag)}"
    with _locked(gitrepo):
        if gitrepo.references.get(ref) is None:
            raise RevisionNotFound(tag)
        git.delete_ref(gitrepo, ref)


def iter_commits(gitrepo: pygit2.Repository, revision: str) -> Iterator[GitCommitInfo]:
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
