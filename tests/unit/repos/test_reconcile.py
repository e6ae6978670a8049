"""A commit whose database transaction fails after git moved the branch: the hub's start-up
heal makes the database, the API's head and the events agree with git again."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from hugbox.auth import service as auth
from hugbox.auth.service import Caller
from hugbox.db import Database
from hugbox.events import service as events
from hugbox.events.models import RepoEvent
from hugbox.repos import commits, reconcile, service
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.payload import AddFile, CommitHeader, SpooledFile
from hugbox.repos.store import RepoStore
from hugbox.storage import git


def _commit(database: Database, store: RepoStore, tmp_path: Path, *, fail: bool) -> str:
    spooled = tmp_path / "spool"
    spooled.write_bytes(b"hello")
    content = SpooledFile(spooled, 5, hashlib.sha256(b"hello").hexdigest())
    with database.session() as session:
        repo = service.find_repo(session, RepoType.MODEL, "alice/m")
        assert isinstance(repo, Repo)
        info = commits.create_commit(
            session, store, caller=Caller(user=auth.get_account(session, "alice")), repo=repo,
            revision="main", header=CommitHeader("add", "", None),
            operations=[AddFile("f.txt", content)], create_pr=False,
        )  # fmt: skip
        if fail:
            raise RuntimeError("the database commit failed")
    return info.oid


def _state(database: Database, store: RepoStore) -> tuple[str | None, str | None, list[RepoEvent]]:
    with database.session() as session:
        repo = service.find_repo(session, RepoType.MODEL, "alice/m")
        assert isinstance(repo, Repo)
        in_git = git.ref_target(store.open(repo), "refs/heads/main")
        moved = session.scalars(select(RepoEvent).where(RepoEvent.kind == events.REF_MOVED)).all()
        session.expunge_all()
        return repo.head_sha, in_git, list(moved)


@pytest.mark.usefixtures("alice_model")
def test_a_failed_transaction_after_the_ref_moved_is_healed(
    database: Database, store: RepoStore, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError):
        _commit(database, store, tmp_path, fail=True)
    head, in_git, moved = _state(database, store)
    assert head != in_git and moved == []  # git is ahead; the database never heard of it

    assert reconcile.heal(database, store) == 1
    head, in_git, moved = _state(database, store)
    assert head == in_git
    assert [(e.data["ref"], e.data["new"]) for e in moved] == [("refs/heads/main", in_git)]

    assert reconcile.heal(database, store) == 0  # nothing left to heal, no second event
    oid = _commit(database, store, tmp_path, fail=False)  # the repo goes on as usual
    head, in_git, moved = _state(database, store)
    assert head == in_git == oid and len(moved) == 2


KILLED_COMMIT = """
import hashlib, os, signal, sys
from pathlib import Path
from hugbox.auth import service as auth
from hugbox.auth.service import Caller
from hugbox.db import Database
from hugbox.repos import commits, service
from hugbox.repos.models import RepoType
from hugbox.repos.payload import AddFile, CommitHeader, SpooledFile
from hugbox.repos.store import RepoStore
from hugbox.storage.blobs import LocalBlobStore

url, root = sys.argv[1], Path(sys.argv[2])
blobs = LocalBlobStore(root / "lfs")
store = RepoStore(repos_dir=root / "repos", blobs=blobs, tmp_dir=root / "tmp")
spooled = root / "killed-spool"
spooled.write_bytes(b"killed")
content = SpooledFile(spooled, 6, hashlib.sha256(b"killed").hexdigest())
with Database(url).session() as session:
    commits.create_commit(
        session, store, caller=Caller(user=auth.get_account(session, "alice")),
        repo=service.find_repo(session, RepoType.MODEL, "alice/m"), revision="main",
        header=CommitHeader("add", "", None), create_pr=False,
        operations=[AddFile("k.txt", content)],
    )
    os.kill(os.getpid(), signal.SIGKILL)  # after git moved main, before the database commits
"""


@pytest.mark.usefixtures("alice_model")
def test_a_commit_killed_before_its_database_commit_is_healed(
    database: Database, store: RepoStore, tmp_path: Path
) -> None:
    url = str(database.engine.url)
    child = subprocess.run(
        [sys.executable, "-c", KILLED_COMMIT, url, str(tmp_path)], capture_output=True, check=False
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    head, in_git, moved = _state(database, store)
    assert head != in_git and moved == []
    assert reconcile.heal(database, store) == 1  # the killed writer left no lock behind
    head, in_git, moved = _state(database, store)
    assert head == in_git and [e.data["new"] for e in moved] == [in_git]
    assert _commit(database, store, tmp_path, fail=False) != in_git  # and the repo goes on
