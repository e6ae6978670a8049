"""Push rules, on a real bare repo whose pushed objects are written but not yet referenced."""

import hashlib
from pathlib import Path

import pygit2

from hugbox.gitserver import policy
from hugbox.storage import git
from hugbox.storage.blobs import LocalBlobStore

MAIN = "refs/heads/main"


def _repo(tmp_path: Path) -> tuple[Path, pygit2.Repository, str]:
    gitrepo = git.init_bare(tmp_path / "repo.git")
    blob = git.write_blob(gitrepo, b"hello\n")
    head = _commit(gitrepo, [git.Put("a.txt", blob)], [])
    git.set_ref(gitrepo, MAIN, head, old=None)
    return tmp_path / "repo.git", gitrepo, head


def _commit(gitrepo: pygit2.Repository, changes: list[git.Change], parents: list[str]) -> str:
    base = gitrepo.get(parents[0]) if parents else None
    assert base is None or isinstance(base, pygit2.Commit)
    tree = git.build_tree(gitrepo, base, changes)
    return git.write_commit(gitrepo, tree_oid=tree, parents=parents, author_name="a",
                            author_email="a@x", message="m")  # fmt: skip


def _rules(tmp_path: Path, max_file: int = 1500) -> policy.Rules:
    return policy.Rules(LocalBlobStore(tmp_path / "lfs"), max_file, "main")


def test_ref_rules() -> None:
    zero, one, two = policy.ZERO, "1" * 40, "2" * 40
    ok = policy.RefUpdate(one, two, "refs/heads/dev")
    assert policy.ref_problem(ok, one, "main") is None
    assert "was updated since you fetched" in str(policy.ref_problem(ok, two, "main"))
    assert policy.ref_problem(policy.RefUpdate(zero, one, "refs/tags/v1"), None, "main") is None
    deleting_main = policy.RefUpdate(one, zero, MAIN)
    assert policy.ref_problem(deleting_main, one, "main") == "Cannot delete refs/heads/main"
    for ref in ("refs/pr/1", "refs/convert/parquet"):
        problem = policy.ref_problem(policy.RefUpdate(zero, one, ref), None, "main")
        assert "written by the hub" in str(problem)


def test_pull_request_refs_open_to_their_pushers() -> None:
    zero, one, two = policy.ZERO, "1" * 40, "2" * 40
    mine = frozenset({"refs/pr/2"})
    push = policy.RefUpdate(one, two, "refs/pr/2")
    assert policy.ref_problem(push, one, "main", writer=False, pr_refs=mine) is None
    assert "updated since" in str(policy.ref_problem(push, two, "main", pr_refs=mine))
    delete = policy.RefUpdate(one, zero, "refs/pr/2")
    assert "cannot be deleted" in str(policy.ref_problem(delete, one, "main", pr_refs=mine))
    other = policy.RefUpdate(one, two, "refs/pr/3")
    assert "written by the hub" in str(policy.ref_problem(other, one, "main", pr_refs=mine))
    branch = policy.RefUpdate(one, two, "refs/heads/main")
    assert "push to a pull request" in str(
        policy.ref_problem(branch, one, "main", writer=False, pr_refs=mine)
    )


def test_large_files_need_lfs_and_pointers_need_their_object(tmp_path: Path) -> None:
    git_dir, gitrepo, head = _repo(tmp_path)
    rules = _rules(tmp_path)
    stored = rules.blobs.writer()
    stored.write(b"weights")
    oid = stored.commit()
    missing = hashlib.sha256(b"missing").hexdigest()
    changes: list[git.Change] = [
        git.Put("big.dat", git.write_blob(gitrepo, b"x" * 2001)),
        git.Put("ok.bin", git.write_blob(gitrepo, git.lfs_pointer_bytes(oid, 7))),
        git.Put("lost.bin", git.write_blob(gitrepo, git.lfs_pointer_bytes(missing, 7))),
    ]
    new = _commit(gitrepo, changes, [head])
    verdict = policy.check_push(git_dir, [policy.RefUpdate(head, new, MAIN)], rules)
    assert len(verdict.problems) == 2
    assert verdict.problems[0].startswith("big.dat: 2001 bytes, over the limit of 1500 bytes")
    assert verdict.problems[1].startswith(f"lost.bin: LFS object {missing} was never uploaded")
    assert verdict.pointers == {oid: 7, missing: 7}


def test_only_new_objects_are_checked(tmp_path: Path) -> None:
    git_dir, gitrepo, head = _repo(tmp_path)
    big = _commit(gitrepo, [git.Put("big.dat", git.write_blob(gitrepo, b"x" * 2000))], [head])
    # Already in the repo: not this push's doing.
    git.set_ref(gitrepo, "refs/heads/old", big, old=None)
    update = policy.RefUpdate(policy.ZERO, big, "refs/heads/copy")
    assert policy.check_push(git_dir, [update], _rules(tmp_path)).problems == []
