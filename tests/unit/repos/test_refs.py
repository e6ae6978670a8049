"""Branches and tags (repos/refs.py) on a real bare git repo: what is created where, which names
and deletions are refused, and with which error."""

from __future__ import annotations

import pygit2
import pytest
from builders import Builder

from hugbox.errors import BadRequest, Conflict, Forbidden, RevisionNotFound
from hugbox.repos import refs
from hugbox.storage import git


@pytest.fixture
def gitrepo(build: Builder) -> pygit2.Repository:
    alice = build.user("alice")
    repo = build.repo(alice, "model")
    build.commit(repo, {"a.txt": b"a"}, by=build.caller(alice))
    return build.store.open(repo)


def target(gitrepo: pygit2.Repository, ref: str) -> str | None:
    return git.ref_target(gitrepo, ref)


def names(gitrepo: pygit2.Repository) -> tuple[list[str], list[str]]:
    listed = refs.list_refs(gitrepo)
    return [b.name for b in listed.branches], [t.name for t in listed.tags]


def test_a_branch_starts_at_main_or_at_the_revision_given(gitrepo: pygit2.Repository) -> None:
    main = target(gitrepo, "refs/heads/main")
    first = str(gitrepo[main].parent_ids[0])
    refs.create_branch(gitrepo, branch="dev", starting_point=None)
    refs.create_branch(gitrepo, branch="feature/old", starting_point=first)
    refs.create_tag(gitrepo, tag="v1", revision=first, message=None, tagger="alice")
    refs.create_branch(gitrepo, branch="from-tag", starting_point="v1")
    assert target(gitrepo, "refs/heads/dev") == main
    assert target(gitrepo, "refs/heads/feature/old") == first
    assert target(gitrepo, "refs/heads/from-tag") == first
    assert names(gitrepo)[0] == ["dev", "feature/old", "from-tag", "main"]


def test_an_existing_branch_is_a_conflict_unless_it_may_exist(gitrepo: pygit2.Repository) -> None:
    first = str(gitrepo[target(gitrepo, "refs/heads/main")].parent_ids[0])
    refs.create_branch(gitrepo, branch="dev", starting_point=first)
    with pytest.raises(Conflict):
        refs.create_branch(gitrepo, branch="dev", starting_point=None)
    refs.create_branch(gitrepo, branch="dev", starting_point=None, exist_ok=True)
    assert target(gitrepo, "refs/heads/dev") == first  # left where it was


def test_a_branch_from_a_missing_revision_is_not_created(gitrepo: pygit2.Repository) -> None:
    with pytest.raises(RevisionNotFound):
        refs.create_branch(gitrepo, branch="dev", starting_point="nope")
    assert names(gitrepo)[0] == ["main"]


CONTROL = ["a\x00b", "a\nb", "tab\there", "del\x7f", "c1\x85"]
BAD_NAMES = [*CONTROL, "", "a b", "a..b", "a~1", "a^", "a:b", "a?", "a*", "a[b", "a\\b", "x.lock"]
BAD_NAMES += ["a/", "/a", "refs/heads/x", "a" * 256]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_branch_and_tag_names_are_refused(gitrepo: pygit2.Repository, name: str) -> None:
    before = git.ref_targets(gitrepo)
    with pytest.raises(BadRequest):
        refs.create_branch(gitrepo, branch=name, starting_point=None)
    with pytest.raises(BadRequest):
        refs.create_tag(gitrepo, tag=name, revision="main", message=None, tagger="alice")
    assert git.ref_targets(gitrepo) == before


def test_main_cannot_be_deleted(gitrepo: pygit2.Repository) -> None:
    with pytest.raises(Forbidden):
        refs.delete_branch(gitrepo, branch="main")
    assert target(gitrepo, "refs/heads/main") is not None


def test_delete_a_branch(gitrepo: pygit2.Repository) -> None:
    refs.create_branch(gitrepo, branch="dev", starting_point=None)
    refs.delete_branch(gitrepo, branch="dev")
    assert names(gitrepo)[0] == ["main"]
    with pytest.raises(RevisionNotFound):
        refs.delete_branch(gitrepo, branch="dev")
    with pytest.raises(BadRequest):
        refs.delete_branch(gitrepo, branch="main\x00dev")  # libgit2 would read `main`


def test_tags_plain_and_annotated(gitrepo: pygit2.Repository) -> None:
    main = target(gitrepo, "refs/heads/main")
    refs.create_tag(gitrepo, tag="v1", revision="main", message=None, tagger="alice")
    refs.create_tag(gitrepo, tag="v2", revision="main", message="Release 2", tagger="alice")
    assert target(gitrepo, "refs/tags/v1") == target(gitrepo, "refs/tags/v2") == main
    annotated = gitrepo[gitrepo.references["refs/tags/v2"].target]
    assert isinstance(annotated, pygit2.Tag)
    assert (annotated.message.strip(), annotated.tagger.name) == ("Release 2", "alice")
    assert names(gitrepo)[1] == ["v1", "v2"]


def test_tag_conflicts_and_missing_revisions(gitrepo: pygit2.Repository) -> None:
    refs.create_tag(gitrepo, tag="v1", revision="main", message=None, tagger="alice")
    with pytest.raises(Conflict):
        refs.create_tag(gitrepo, tag="v1", revision="main", message=None, tagger="alice")
    with pytest.raises(RevisionNotFound):  # HF judges the revision before the name
        refs.create_tag(gitrepo, tag="bad name", revision="nope", message=None, tagger="alice")


def test_delete_a_tag(gitrepo: pygit2.Repository) -> None:
    refs.create_tag(gitrepo, tag="v1", revision="main", message=None, tagger="alice")
    refs.delete_tag(gitrepo, tag="v1")
    assert names(gitrepo)[1] == []
    with pytest.raises(RevisionNotFound):
        refs.delete_tag(gitrepo, tag="v1")


def test_history_is_newest_first(gitrepo: pygit2.Repository) -> None:
    history = list(refs.iter_commits(gitrepo, "main"))
    assert [c.title for c in history] == ["add files", "initial commit"]
    assert history[0].authors == ["alice"]
    with pytest.raises(RevisionNotFound):
        list(refs.iter_commits(gitrepo, "nope"))


@pytest.mark.xfail(
    strict=True,
    raises=(OSError, pygit2.GitError),
    reason="bug: a branch or tag whose name nests under an existing one (`dev/x` beside `dev`, "
    "or `feat` above `feat/x`) escapes as libgit2's OSError/GitError, a 500, not a 409",
)
@pytest.mark.parametrize(("existing", "new"), [("dev", "dev/x"), ("feat/x", "feat")])
def test_a_name_that_nests_with_an_existing_ref_is_a_conflict(
    gitrepo: pygit2.Repository, existing: str, new: str
) -> None:
    refs.create_branch(gitrepo, branch=existing, starting_point=None)
    with pytest.raises(Conflict):
        refs.create_branch(gitrepo, branch=new, starting_point=None)
