"""Pushes: receive-pack under the repo lock with our pre-receive hook, then the API's view updated.

Refs only move under the per-repo lock that API commits hold too, so a push and a commit never
overwrite each other: whichever comes second finds the branch moved and is refused (a push, by
the hook) or builds on it (a commit).
"""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from hugbox.gitserver import hook, transport
from hugbox.repos import announce, indexer, lfs_index, objects
from hugbox.repos.commits import LFS_SIZE_THRESHOLD
from hugbox.repos.models import LfsObject, Repo
from hugbox.repos.refs import DEFAULT_BRANCH
from hugbox.repos.store import RepoStore
from hugbox.storage import git


@dataclass(frozen=True)
class PushSetup:
    """Where the hook script lives and what it checks against."""

    hooks_dir: Path
    blobs_dir: Path
    xet_dir: Path  # pointers may name files stored as Xet recipes
    blob_url: str  # the bucket holding them, if not the data dir ("")
    database_url: str  # the hook asks which LFS objects the pusher may name
    pusher_id: int
    max_file: int = LFS_SIZE_THRESHOLD
    writer: bool = True  # may write branches and tags; else only `pr_refs`
    pr_refs: frozenset[str] = frozenset()  # the open PRs' refs the pusher may move


def hook_script() -> str:
    return f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m hugbox.gitserver.hook\n"


def ensure_hooks(hooks_dir: Path) -> None:
    """Write the pre-receive hook for this interpreter (rewritten if another one wrote it)."""
    path = hooks_dir / "pre-receive"
    script = hook_script()
    if path.exists() and path.read_text() == script:
        return
    hooks_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=hooks_dir, delete=False) as handle:
        handle.write(script)
    Path(handle.name).chmod(0o755)
    Path(handle.name).replace(path)


def receive_config(hooks_dir: Path) -> dict[str, str]:
    return {
        "core.hooksPath": str(hooks_dir),
        # An automatic gc would run under the repo lock, stalling every writer meanwhile.
        "receive.autogc": "false",
        **git.DURABLE_CONFIG,
    }


def receive_pack(
    session: Session, store: RepoStore, *, repo: Repo, body: BinaryIO, setup: PushSetup
) -> bytes:
    """Run a push; returns receive-pack's answer for the client."""
    ensure_hooks(setup.hooks_dir)
    git_dir = store.git_dir(repo)
    main_ref = f"refs/heads/{DEFAULT_BRANCH}"
    with tempfile.TemporaryDirectory(dir=store.tmp_dir, prefix="push-") as work:
        report = Path(work) / "report.json"
        env = {
            hook.BLOBS_VAR: str(setup.blobs_dir),
            hook.XET_VAR: str(setup.xet_dir),
            hook.BLOB_URL_VAR: setup.blob_url,
            hook.MAX_FILE_VAR: str(setup.max_file),
            hook.REPORT_VAR: str(report),
            hook.DEFAULT_BRANCH_VAR: DEFAULT_BRANCH,
            hook.DATABASE_VAR: setup.database_url,
            hook.REPO_VAR: str(repo.pk),
            hook.USER_VAR: str(setup.pusher_id),
            hook.WRITER_VAR: "1" if setup.writer else "0",
            hook.PR_REFS_VAR: " ".join(sorted(setup.pr_refs)),
        }
        with store.locked(repo, session):
            before = git.ref_targets(store.open(repo))
            output = transport.run_receive_pack(
                git_dir, body, config=receive_config(setup.hooks_dir), env=env
            )
            after = git.ref_targets(store.open(repo))
        pointers = json.loads(report.read_text())["pointers"] if report.exists() else {}
    record_pointers(session, store, pointers)
    objects.link(session, repo_pk=repo.pk, oids=pointers)
    if before.get(main_ref) != after.get(main_ref):
        indexer.refresh(session, store, repo)
    announce.refs_moved(session, repo, before=before, after=after)
    return output


def record_pointers(session: Session, store: RepoStore, pointers: dict[str, int]) -> None:
    """LfsObject rows for pushed pointers, so `inline` preupload recognises their content."""
    rows = []
    for oid, size in pointers.items():
        path = store.blobs.cached_path(oid)
        if path is not None and lfs_index.git_oid_of(session, oid) is None:
            rows.append(LfsObject(oid=oid, size=size, git_oid=lfs_index.content_git_oid(path)))
    lfs_index.record(session, rows)
