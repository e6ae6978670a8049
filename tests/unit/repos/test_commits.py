"""create_commit on a real git repo and a real SQLite database: what each operation writes,
which commits are refused, and that a refused commit leaves the ref, the events and the object
index as they were."""

from __future__ import annotations

from collections.abc import Sequence

import pygit2
import pytest
from builders import Builder
from sqlalchemy import select

from hugbox.auth.models import Account, TokenRole
from hugbox.auth.service import Caller
from hugbox.errors import (
    BadRequest,
    EntryNotFound,
    Forbidden,
    HubError,
    PreconditionFailed,
    RevisionNotFound,
    UnprocessableEntity,
)
from hugbox.events import service as events
from hugbox.events.models import RepoEvent
from hugbox.repos import commits, refs
from hugbox.repos.commits import CommitInfo
from hugbox.repos.models import Discussion, Repo, RepoObject
from hugbox.repos.payload import (
    AddFile,
    AddLfsFile,
    CommitHeader,
    CopyFile,
    DeleteFile,
    DeleteFolder,
    Operation,
)
from hugbox.storage import git


@pytest.fixture
def alice(build: Builder) -> Account:
    return build.user("alice")


@pytest.fixture
def repo(build: Builder, alice: Account) -> Repo:
    return build.repo(alice, "model")


def commit(
    build: Builder,
    repo: Repo,
    operations: Sequence[Operation],
    *,
    by: Caller,
    revision: str = "main",
    parent: str | None = None,
    create_pr: bool = False,
) -> CommitInfo:
    return commits.create_commit(
        build.session, build.store, caller=by, repo=repo, revision=revision,
        header=CommitHeader(summary="change", description="", parent_commit=parent),
        operations=operations, create_pr=create_pr,
    )  # fmt: skip


def files(build: Builder, repo: Repo, ref: str = "refs/heads/main") -> dict[str, bytes]:
    """Every file at `ref`, path -> content."""
    gitrepo = build.store.open(repo)
    head = git.resolve(gitrepo, ref)
    assert head is not None
    found: dict[str, bytes] = {}

    def walk(tree: pygit2.Tree, prefix: str) -> None:
        for entry in tree:
            obj = gitrepo[entry.id]
            if isinstance(obj, pygit2.Tree):
                walk(obj, f"{prefix}{entry.name}/")
            else:
                assert isinstance(obj, pygit2.Blob)
                found[f"{prefix}{entry.name}"] = obj.data

    walk(head.tree, "")
    return found


def head(build: Builder, repo: Repo, ref: str = "refs/heads/main") -> str | None:
    return git.ref_target(build.store.open(repo), ref)


def add(build: Builder, path: str, data: bytes) -> AddFile:
    return AddFile(path, build.spooled(data))


def test_add_update_and_delete_files(build: Builder, repo: Repo, alice: Account) -> None:
    by = build.caller(alice)
    first = head(build, repo)
    info = commit(build, repo, [add(build, "a.txt", b"a"), add(build, "dir/b.txt", b"b")], by=by)
    assert head(build, repo) == info.oid and info.pr_num is None
    gitrepo = build.store.open(repo)
    assert [str(p) for p in gitrepo[info.oid].parent_ids] == [first]
    assert gitrepo[info.oid].author.name == "alice"
    assert files(build, repo).keys() == {".gitattributes", "a.txt", "dir/b.txt"}
    commit(build, repo, [add(build, "a.txt", b"a2"), DeleteFile("dir/b.txt")], by=by)
    assert files(build, repo)["a.txt"] == b"a2"
    assert "dir/b.txt" not in files(build, repo)


def test_delete_a_folder_with_or_without_its_slash(
    build: Builder, repo: Repo, alice: Account
) -> None:
    by = build.caller(alice)
    tree = {"x/1.txt": b"1", "x/2.txt": b"2", "y/1.txt": b"1", "y/2.txt": b"2"}
    build.commit(repo, tree, by=by)
    commit(build, repo, [DeleteFolder("x/")], by=by)
    commit(build, repo, [DeleteFile("y")], by=by)  # HF deletes a folder named as a file
    assert files(build, repo).keys() == {".gitattributes"}


def test_copy_a_file(build: Builder, repo: Repo, alice: Account) -> None:
    by = build.caller(alice)
    build.commit(repo, {"a.txt": b"same"}, by=by)
    commit(build, repo, [CopyFile(src_path="a.txt", path_in_repo="sub/copy.txt")], by=by)
    assert files(build, repo)["sub/copy.txt"] == files(build, repo)["a.txt"] == b"same"
    with pytest.raises(EntryNotFound):
        commit(build, repo, [CopyFile(src_path="missing.txt", path_in_repo="b.txt")], by=by)


def test_an_empty_commit_keeps_the_tree(build: Builder, repo: Repo, alice: Account) -> None:
    before = head(build, repo)
    info = commit(build, repo, [], by=build.caller(alice))
    gitrepo = build.store.open(repo)
    assert info.oid != before
    assert gitrepo[info.oid].tree_id == gitrepo[before].tree_id


def test_files_the_attributes_track_become_lfs_pointers(
    build: Builder, repo: Repo, alice: Account
) -> None:
    data = b"\x00weights"
    commit(build, repo, [add(build, "model.bin", data)], by=build.caller(alice))
    pointer = git.parse_lfs_pointer(files(build, repo)["model.bin"])
    assert pointer is not None and pointer.size == len(data)
    assert build.store.blobs.size(pointer.oid) == len(data)
    linked = build.session.scalars(select(RepoObject.oid).where(RepoObject.repo_pk == repo.pk))
    assert list(linked) == [pointer.oid]


def test_a_commit_that_rewrites_the_attributes_follows_its_own_rules(
    build: Builder, repo: Repo, alice: Account
) -> None:
    attributes = add(build, ".gitattributes", b"*.custom filter=lfs diff=lfs merge=lfs -text\n")
    big = add(build, "x.custom", b"tracked now")
    commit(
        build,
        repo,
        [attributes, big, add(build, "y.bin", b"untracked now")],
        by=build.caller(alice),
    )
    tree = files(build, repo)
    assert git.parse_lfs_pointer(tree["x.custom"]) is not None
    assert tree["y.bin"] == b"untracked now"


def test_an_uploaded_lfs_file_is_committed_and_tracked(
    build: Builder, repo: Repo, alice: Account
) -> None:
    oid = build.upload_lfs(repo, alice, b"large content")
    commit(build, repo, [AddLfsFile("data.custom", oid, 13)], by=build.caller(alice))
    tree = files(build, repo)
    assert tree["data.custom"] == git.lfs_pointer_bytes(oid, 13)
    assert b"data.custom filter=lfs" in tree[".gitattributes"]  # tracked, as HF does


def test_an_lfs_file_is_refused_unless_its_committer_uploaded_it(
    build: Builder, repo: Repo, alice: Account
) -> None:
    """Knowing a sha256 proves nothing: a private repo of someone else holds these bytes."""
    bob = build.user("bob")
    secret = build.repo(bob, "secret", private=True)
    oid = build.upload_lfs(secret, bob, b"bob's weights")
    by = build.caller(alice)
    refused(build, repo, [AddLfsFile("w.custom", oid, 13)], by=by, error=BadRequest)
    missing = "0" * 64
    refused(build, repo, [AddLfsFile("w.custom", missing, 1)], by=by, error=BadRequest)
    mine = build.upload_lfs(repo, alice, b"mine")
    refused(build, repo, [AddLfsFile("w.custom", mine, 5)], by=by, error=BadRequest)  # size


def test_a_stale_parent_commit_is_refused(build: Builder, repo: Repo, alice: Account) -> None:
    by = build.caller(alice)
    parent = head(build, repo)
    assert parent is not None
    build.commit(repo, {"a.txt": b"a"}, by=by)
    refused(
        build, repo, [add(build, "b.txt", b"b")], by=by, parent=parent, error=PreconditionFailed
    )
    now = head(build, repo)
    assert now is not None
    refused(
        build, repo, [add(build, "b.txt", b"b")], by=by, parent=now[:4], error=PreconditionFailed
    )
    commit(build, repo, [add(build, "b.txt", b"b")], by=by, parent=now[:7].upper())


@pytest.mark.parametrize(
    "path", ["../up.txt", "/abs.txt", "a//b.txt", "./a.txt", ".git/config", "a\\b.txt", "a\x00b"]
)
def test_bad_paths_are_refused(build: Builder, repo: Repo, alice: Account, path: str) -> None:
    by = build.caller(alice)
    refused(build, repo, [add(build, "fine.txt", b"ok"), add(build, path, b"x")], by=by,
            error=UnprocessableEntity)  # fmt: skip


def test_writes_need_write_access_and_a_write_token(
    build: Builder, repo: Repo, alice: Account
) -> None:
    bob = build.user("bob")
    refused(build, repo, [add(build, "a.txt", b"a")], by=build.caller(bob), error=Forbidden)
    reader = build.caller(alice, TokenRole.READ)
    refused(build, repo, [add(build, "a.txt", b"a")], by=reader, error=Forbidden)
    refused(build, repo, [add(build, "a.txt", b"a")], by=build.caller(None), error=Forbidden)


def test_a_commit_to_a_missing_branch_is_refused(
    build: Builder, repo: Repo, alice: Account
) -> None:
    refused(build, repo, [add(build, "a.txt", b"a")], by=build.caller(alice), revision="nope",
            error=RevisionNotFound)  # fmt: skip


def test_a_commit_on_a_branch_leaves_main(build: Builder, repo: Repo, alice: Account) -> None:
    main = head(build, repo)
    refs.create_branch(build.session, build.store, repo=repo, branch="dev", starting_point=None)
    info = commit(build, repo, [add(build, "a.txt", b"a")], by=build.caller(alice), revision="dev")
    assert head(build, repo) == main
    assert head(build, repo, "refs/heads/dev") == info.oid
    assert "a.txt" in files(build, repo, "refs/heads/dev")


def test_create_pr_opens_numbered_pull_requests_on_refs_pr(
    build: Builder, repo: Repo, alice: Account
) -> None:
    main = head(build, repo)
    bob = build.caller(build.user("bob"))  # no write access: a pull request is his way in
    first = commit(build, repo, [add(build, "a.txt", b"a")], by=bob, create_pr=True)
    second = commit(build, repo, [add(build, "b.txt", b"b")], by=bob, create_pr=True)
    assert (first.pr_num, second.pr_num) == (1, 2)
    assert head(build, repo) == main
    assert files(build, repo, "refs/pr/1").keys() == {".gitattributes", "a.txt"}
    assert files(build, repo, "refs/pr/2").keys() == {".gitattributes", "b.txt"}
    prs = build.session.scalars(select(Discussion).where(Discussion.repo_pk == repo.pk)).all()
    assert [(d.num, d.is_pull_request, d.status) for d in prs] == [
        (1, True, "open"),  # a commit's pull request is open at once, as on HF
        (2, True, "open"),
    ]
    # More commits on the pull request go to its ref.
    more = commit(build, repo, [add(build, "c.txt", b"c")], by=build.caller(alice),
                  revision="refs/pr/1")  # fmt: skip
    assert head(build, repo, "refs/pr/1") == more.oid


def test_a_commit_to_main_announces_the_move_and_refreshes_the_repo(
    build: Builder, repo: Repo, alice: Account
) -> None:
    before = head(build, repo)
    info = build.commit(repo, {"README.md": b"# hi\n"}, by=build.caller(alice))
    moved = [(e.kind, e.data) for e in build.session.scalars(select(RepoEvent))]
    assert moved[-1] == (events.REF_MOVED, {"ref": "refs/heads/main", "old": before, "new": info})
    assert repo.head_sha == info


def refused(
    build: Builder,
    repo: Repo,
    operations: Sequence[Operation],
    *,
    by: Caller,
    error: type[HubError],
    revision: str = "main",
    parent: str | None = None,
    create_pr: bool = False,
) -> None:
    """The commit is refused with `error`, and leaves no trace: refs, events, index, PRs."""
    before = _trace(build, repo)
    with pytest.raises(error), build.session.begin_nested():  # a request's transaction
        commit(build, repo, operations, by=by, revision=revision, parent=parent,
               create_pr=create_pr)  # fmt: skip
    assert _trace(build, repo) == before


def _trace(build: Builder, repo: Repo) -> tuple[object, ...]:
    session = build.session
    return (
        git.ref_targets(build.store.open(repo)),
        session.scalars(select(RepoEvent.id)).all(),
        session.scalars(select(RepoObject.oid).where(RepoObject.repo_pk == repo.pk)).all(),
        session.scalars(select(Discussion.num).where(Discussion.repo_pk == repo.pk)).all(),
    )


def test_a_refused_pull_request_leaves_no_ref(build: Builder, repo: Repo) -> None:
    bob = build.caller(build.user("bob"))
    refused(build, repo, [add(build, "../x", b"x")], by=bob, create_pr=True,
            error=UnprocessableEntity)  # fmt: skip
