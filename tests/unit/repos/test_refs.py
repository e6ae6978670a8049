"""Branches and tags (repos/refs.py) on a real bare git repo: what is created where, which names
and deletions are refused, and with which error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pygit2
import pytest
from builders import Builder

from hugbox.errors import BadRequest, Conflict, Forbidden, RevisionNotFound
from hugbox.repos import refs
from hugbox.repos.models import Repo
from hugbox.storage import git


@dataclass
class Refs:
    """The ref changes of one repo, in the test's session."""

    build: Builder
    repo: Repo

    @property
    def git(self) -> pygit2.Repository:
        return self.build.store.open(self.repo)

    def create_branch(self, **kwargs: Any) -> None:
        refs.create_branch(self.build.session, self.build.store, repo=self.repo, **kwargs)

    def delete_branch(self, **kwargs: Any) -> None:
        refs.delete_branch(self.build.session, self.build.store, repo=self.repo, **kwargs)

    def create_tag(self, **kwargs: Any) -> None:
        refs.create_tag(self.build.session, self.build.store, repo=self.repo, **kwargs)

    def delete_tag(self, **kwargs: Any) -> None:
        refs.delete_tag(self.build.session, self.build.store, repo=self.repo, **kwargs)


@pytest.fixture
def r(build: Builder) -> Refs:
    alice = build.user("alice")
    repo = build.repo(alice, "model")
    build.commit(repo, {"a.txt": b"a"}, by=build.caller(alice))
    return Refs(build, repo)


def target(gitrepo: pygit2.Repository, ref: str) -> str | None:
    return git.ref_target(gitrepo, ref)


def names(gitrepo: pygit2.Repository) -> tuple[list[str], list[str]]:
    listed = refs.list_refs(gitrepo)
    return [b.name for b in listed.branches], [t.name for t in listed.tags]


def test_a_branch_starts_at_main_or_at_the_revision_given(r: Refs) -> None:
    main = target(r.git, "refs/heads/main")
    first = str(r.git[main].parent_ids[0])
    r.create_branch(branch="dev", starting_point=None)
    r.create_branch(branch="feature/old", starting_point=first)
    r.create_tag(tag="v1", revision=first, message=None, tagger="alice")
    r.create_branch(branch="from-tag", starting_point="v1")
    assert target(r.git, "refs/heads/dev") == main
    assert target(r.git, "refs/heads/feature/old") == first
    assert target(r.git, "refs/heads/from-tag") == first
    assert names(r.git)[0] == ["dev", "feature/old", "from-tag", "main"]


def test_an_existing_branch_is_a_conflict_unless_it_may_exist(r: Refs) -> None:
    first = str(r.git[target(r.git, "refs/heads/main")].parent_ids[0])
    r.create_branch(branch="dev", starting_point=first)
    with pytest.raises(Conflict):
        r.create_branch(branch="dev", starting_point=None)
    r.create_branch(branch="dev", starting_point=None, exist_ok=True)
    assert target(r.git, "refs/heads/dev") == first  # left where it was


def test_a_branch_from_a_missing_revision_is_not_created(r: Refs) -> None:
    with pytest.raises(RevisionNotFound):
        r.create_branch(branch="dev", starting_point="nope")
    assert names(r.git)[0] == ["main"]


CONTROL = ["a\x00b", "a\nb", "tab\there", "del\x7f", "c1\x85"]
BAD_NAMES = [*CONTROL, "", "a b", "a..b", "a~1", "a^", "a:b", "a?", "a*", "a[b", "a\\b", "x.lock"]
BAD_NAMES += ["a/", "/a", "refs/heads/x", "a" * 256, "HEAD", "@", "-x", "--force"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_branch_and_tag_names_are_refused(r: Refs, name: str) -> None:
    before = git.ref_targets(r.git)
    with pytest.raises(BadRequest):
        r.create_branch(branch=name, starting_point=None)
    with pytest.raises(BadRequest):
        r.create_tag(tag=name, revision="main", message=None, tagger="alice")
    assert git.ref_targets(r.git) == before


def test_main_cannot_be_deleted(r: Refs) -> None:
    with pytest.raises(Forbidden):
        r.delete_branch(branch="main")
    assert target(r.git, "refs/heads/main") is not None


def test_delete_a_branch(r: Refs) -> None:
    r.create_branch(branch="dev", starting_point=None)
    r.delete_branch(branch="dev")
    assert names(r.git)[0] == ["main"]
    with pytest.raises(RevisionNotFound):
        r.delete_branch(branch="dev")
    with pytest.raises(BadRequest):
        r.delete_branch(branch="main\x00dev")  # libgit2 would read `main`


def test_tags_plain_and_annotated(r: Refs) -> None:
    main = target(r.git, "refs/heads/main")
    r.create_tag(tag="v1", revision="main", message=None, tagger="alice")
    r.create_tag(tag="v2", revision="main", message="Release 2", tagger="alice")
    assert target(r.git, "refs/tags/v1") == target(r.git, "refs/tags/v2") == main
    annotated = r.git[r.git.references["refs/tags/v2"].target]
    assert isinstance(annotated, pygit2.Tag)
    assert (annotated.message.strip(), annotated.tagger.name) == ("Release 2", "alice")
    assert names(r.git)[1] == ["v1", "v2"]


def test_tag_conflicts_and_missing_revisions(r: Refs) -> None:
    r.create_tag(tag="v1", revision="main", message=None, tagger="alice")
    with pytest.raises(Conflict):
        r.create_tag(tag="v1", revision="main", message=None, tagger="alice")
    with pytest.raises(RevisionNotFound):  # HF judges the revision before the name
        r.create_tag(tag="bad name", revision="nope", message=None, tagger="alice")


def test_delete_a_tag(r: Refs) -> None:
    r.create_tag(tag="v1", revision="main", message=None, tagger="alice")
    r.delete_tag(tag="v1")
    assert names(r.git)[1] == []
    with pytest.raises(RevisionNotFound):
        r.delete_tag(tag="v1")


def test_history_is_newest_first(r: Refs) -> None:
    history = list(refs.list_repo_commits(r.build.store, r.repo, "main"))
    assert [c.title for c in history] == ["add files", "initial commit"]
    assert history[0].authors == ["alice"]
    with pytest.raises(RevisionNotFound):
        list(refs.list_repo_commits(r.build.store, r.repo, "nope"))


@pytest.mark.parametrize(("existing", "new"), [("dev", "dev/x"), ("feat/x", "feat")])
def test_a_name_that_nests_with_an_existing_ref_is_a_conflict(
    r: Refs, existing: str, new: str
) -> None:
    r.create_branch(branch=existing, starting_point=None)
    with pytest.raises(Conflict):
        r.create_branch(branch=new, starting_point=None)
