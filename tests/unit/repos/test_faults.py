"""Fault injection on every ref change: an exception, or a `kill -9` of the process, between each
pair of its steps (write the objects, move the ref, record the change and its event, commit the
transaction). Afterwards, once the reconciler ran, git (read by a real `git clone` too), the
database and the events agree, and nothing acknowledged is lost.

The faults wrap the storage calls (the real call runs, then the fault), so the code under test is
hugbox's own, unchanged. Run as a script, this module is the child process that gets killed.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hugbox.auth import service as auth
from hugbox.auth.service import Caller
from hugbox.db import Database
from hugbox.events import service as events
from hugbox.events.models import RepoEvent
from hugbox.repos import announce, commits, reconcile, refs, service
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.payload import AddFile, CommitHeader, SpooledFile
from hugbox.repos.store import RepoStore
from hugbox.storage import git
from hugbox.storage.blobs import LocalBlobStore

Operation = Callable[[Any, RepoStore, Repo, Caller, Path], None]


def _committing(revision: str, name: str) -> Operation:
    def commit(session: Any, store: RepoStore, repo: Repo, caller: Caller, tmp: Path) -> None:
        spooled = tmp / f"spool-{revision}"
        spooled.write_bytes(name.encode())
        content = SpooledFile(spooled, len(name), hashlib.sha256(name.encode()).hexdigest())
        commits.create_commit(
            session, store, caller=caller, repo=repo, revision=revision,
            header=CommitHeader("add", "", None), operations=[AddFile(name, content)],
            create_pr=False,
        )  # fmt: skip

    return commit


def _squash(session: Any, store: RepoStore, repo: Repo, caller: Caller, tmp: Path) -> None:
    commits.super_squash(session, store, caller=caller, repo=repo, branch="main", message="sq")


def _create_branch(session: Any, store: RepoStore, repo: Repo, caller: Caller, tmp: Path) -> None:
    refs.create_branch(session, store, repo=repo, branch="feature", starting_point="main")


def _delete_branch(session: Any, store: RepoStore, repo: Repo, caller: Caller, tmp: Path) -> None:
    refs.delete_branch(session, store, repo=repo, branch="dev")


def _create_tag(session: Any, store: RepoStore, repo: Repo, caller: Caller, tmp: Path) -> None:
    refs.create_tag(
        session, store, repo=repo, tag="v1", revision="main", message=None, tagger="alice"
    )


OPERATIONS: dict[str, Operation] = {
    "commit to main": _committing("main", "m.txt"),
    "commit to a branch": _committing("dev", "f.txt"),
    "super-squash": _squash,
    "create a branch": _create_branch,
    "delete a branch": _delete_branch,
    "create a tag": _create_tag,
}
WRITES_OBJECTS = {"commit to main", "commit to a branch", "super-squash"}
# Where the fault strikes, and how many repos the reconciler then finds to heal.
FAULTS = {
    "objects written": 0,  # the ref never moved: nothing happened
    "ref moved": 1,  # git moved, the database never heard of it
    "change recorded": 1,  # recorded, but the transaction never committed
    "committed": 0,  # acknowledged: all is there already
}


class Fault(Exception):
    pass


def _strike(kill: bool) -> None:
    if kill:
        os.kill(os.getpid(), signal.SIGKILL)
    raise Fault


@contextmanager
def _fault_after(module: Any, names: tuple[str, ...], kill: bool) -> Iterator[None]:
    """Make each of `names` in `module` run for real, then fail."""
    originals = {name: getattr(module, name) for name in names}

    def failing(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            original(*args, **kwargs)
            _strike(kill)

        return call

    for name, original in originals.items():
        setattr(module, name, failing(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(module, name, original)


def run(database: Database, store: RepoStore, operation: str, fault: str, kill: bool) -> None:
    """Run `operation` on alice/m with `fault` injected (raises Fault, or kills the process)."""
    do = OPERATIONS[operation]
    with database.session() as session:
        repo = service.find_repo(session, RepoType.MODEL, "alice/m")
        assert isinstance(repo, Repo)
        caller = Caller(user=auth.get_account(session, "alice"))
        tmp = store.tmp_dir
        tmp.mkdir(parents=True, exist_ok=True)
        if fault == "objects written":
            with _fault_after(git, ("write_commit",), kill):
                do(session, store, repo, caller, tmp)
        elif fault == "ref moved":
            with _fault_after(git, ("set_ref", "delete_ref"), kill):
                do(session, store, repo, caller, tmp)
        else:
            do(session, store, repo, caller, tmp)
            if fault == "change recorded":
                _strike(kill)
    if fault == "committed":
        _strike(kill)


@pytest.fixture
def hub(database: Database, store: RepoStore) -> tuple[Database, RepoStore]:
    """alice/m with a commit on main, a branch `dev` and a tag `v0`, all recorded."""
    with database.session() as session:
        alice = auth.create_user(session, name="alice", password="pw")
        repo = service.create_repo(
            session, store, caller=Caller(user=alice), repo_type=RepoType.MODEL,
            namespace="alice", name="m",
        )  # fmt: skip
        refs.create_branch(session, store, repo=repo, branch="dev", starting_point=None)
        refs.create_tag(
            session, store, repo=repo, tag="v0", revision="main", message=None, tagger="alice"
        )
    return database, store


def _agree(database: Database, store: RepoStore, clone_dir: Path) -> dict[str, str]:
    """Assert that git, the database, the events and a clone agree; returns git's refs."""
    with database.session() as session:
        repo = service.find_repo(session, RepoType.MODEL, "alice/m")
        assert isinstance(repo, Repo)
        in_git = git.ref_targets(store.open(repo))
        assert announce.recorded_refs(session, repo) == in_git
        assert repo.head_sha == in_git["refs/heads/main"]
        assert _replay(session.scalars(select(RepoEvent).order_by(RepoEvent.id))) == in_git
        git_dir = store.git_dir(repo)
    subprocess.run(["git", "clone", "-q", str(git_dir), str(clone_dir)], check=True)
    cloned = subprocess.run(
        ["git", "-C", str(clone_dir), "rev-parse", "HEAD"], capture_output=True, check=True
    )
    assert cloned.stdout.decode().strip() == in_git["refs/heads/main"]
    return in_git


def _replay(stream: Any) -> dict[str, str]:
    """Each ref's commit, as a subscriber that heard every event would know it."""
    known: dict[str, str] = {}
    for event in stream:
        if event.kind == events.REPO_CREATED:
            known["refs/heads/main"] = event.data["head"]
        elif event.kind == events.REF_MOVED and event.data["new"] is None:
            known.pop(event.data["ref"], None)
        elif event.kind == events.REF_MOVED:
            known[event.data["ref"]] = event.data["new"]
    return known


CASES = [
    (operation, fault)
    for operation in OPERATIONS
    for fault in FAULTS
    if fault != "objects written" or operation in WRITES_OBJECTS
]


@pytest.mark.parametrize(("operation", "fault"), CASES)
def test_an_exception_between_steps(
    hub: tuple[Database, RepoStore], operation: str, fault: str, tmp_path: Path
) -> None:
    database, store = hub
    before = _agree(database, store, tmp_path / "before")
    with pytest.raises(Fault):
        run(database, store, operation, fault, kill=False)
    _check_healed(database, store, operation, fault, before, tmp_path)


@pytest.mark.slow  # a Python process per case, about 2 s each
@pytest.mark.parametrize(("operation", "fault"), CASES)
def test_a_kill_between_steps(
    hub: tuple[Database, RepoStore], operation: str, fault: str, tmp_path: Path
) -> None:
    database, store = hub
    before = _agree(database, store, tmp_path / "before")
    child = subprocess.run(
        [sys.executable, __file__, str(database.engine.url), str(tmp_path), operation, fault],
        capture_output=True, check=False,
    )  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    _check_healed(database, store, operation, fault, before, tmp_path)


def _check_healed(
    database: Database, store: RepoStore, operation: str, fault: str, before: dict[str, str],
    tmp_path: Path,
) -> None:  # fmt: skip
    assert reconcile.heal(database, store) == FAULTS[fault]
    after = _agree(database, store, tmp_path / "after")
    if fault in ("objects written",):
        assert after == before  # not acknowledged, not applied
    else:
        assert after != before  # git holds the change: it is applied, and now recorded
    assert reconcile.heal(database, store) == 0  # settled: a second pass finds nothing
    run(database, store, "commit to main", "none", kill=False)  # and the repo goes on
    _agree(database, store, tmp_path / "later")


if __name__ == "__main__":
    url, root, operation, fault = sys.argv[1:]
    blobs = LocalBlobStore(Path(root) / "lfs")
    store = RepoStore(repos_dir=Path(root) / "repos", blobs=blobs, tmp_dir=Path(root) / "tmp")
    run(Database(url), store, operation, fault, kill=True)
