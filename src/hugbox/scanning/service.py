"""Scanning as a follower of repo events: each commit's pickle-bearing and safetensors files are
queued once per blob, scanned by the job worker, and their verdicts served as HF serves them.

Nothing here blocks an upload or a download: a file is `queued` until its verdict is in. Only
the Inference API waits for one (`check_weights`), since loading a pickle runs it.
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hugbox.errors import Forbidden, HubError
from hugbox.events.models import RepoEvent
from hugbox.jobs import service as jobs
from hugbox.repos import content, indexer
from hugbox.repos.models import Repo
from hugbox.repos.store import RepoStore
from hugbox.scanning import scanner
from hugbox.scanning.models import SCAN_JOB, FileScan, UnsafeWeightsAllowed
from hugbox.storage import git
from hugbox.storage.blobs import BlobStore

log = logging.getLogger(__name__)
ISSUES = ("caution", "suspicious", "error", "unsafe")


class UnsafeWeights(Forbidden):
    error_code = "UnsafeWeights"


@dataclass(frozen=True)
class Candidate:
    """A file of a commit that is scanned, named by its content."""

    path: str
    oid: str  # sha256 of a large file, git blob id of a small one
    size: int
    large: bool


def candidates(gitrepo: git.Repository, repo: Repo, commit: git.Commit) -> list[Candidate]:
    """The commit's scanned files, from repos' listing of the commit (cached by commit id: the
    repo page, `model_info` and the inference check read the same one)."""
    files = indexer.describe(gitrepo, repo.type, commit).files
    return [
        Candidate(f.path, f.lfs.oid if f.lfs else f.blob_id, f.size, f.lfs is not None)
        for f in files
        if scanner.scanned(f.path)
    ]


def verdicts(session: Session, oids: list[str]) -> dict[str, FileScan]:
    if not oids:
        return {}
    rows = session.scalars(select(FileScan).where(FileScan.oid.in_(set(oids))))
    return {row.oid: row for row in rows}


def on_ref_moved(store: RepoStore, session: Session, event: RepoEvent) -> None:
    """Queue a scan of each file of the new commit whose bytes were never scanned."""
    repo = session.get(Repo, event.repo_pk)
    new = event.data.get("new")
    if repo is None or new is None:
        return
    try:
        gitrepo = store.reader(repo)
        found = candidates(gitrepo, repo, content.resolve_revision(gitrepo, new))
    except HubError:  # the repo or the commit went away meanwhile: nothing left to scan
        return
    known = verdicts(session, [c.oid for c in found])
    for c in found:
        if c.oid not in known:
            payload = {"repo_pk": repo.pk, "path": c.path, "oid": c.oid, "size": c.size,
                       "large": c.large}  # fmt: skip
            jobs.enqueue(session, kind=SCAN_JOB, key=c.oid, payload=payload)


def scan_candidate(store: RepoStore, blobs: BlobStore, repo: Repo, c: Candidate) -> FileScan:
    """Read and judge one file (for a GiB, seconds: outside any transaction)."""
    with _opened(store, blobs, repo, c) as handle:
        verdict = scanner.scan(handle, c.path, c.size)
    log.info("scanned %s (%s) in %s: %s", c.path, c.oid, repo.repo_id, verdict.status)
    return FileScan(
        oid=c.oid, status=verdict.status, pickle_imports=verdict.imports,
        message=verdict.message, scanner=scanner.SCANNER,
    )  # fmt: skip


def _opened(store: RepoStore, blobs: BlobStore, repo: Repo, c: Candidate) -> BinaryIO:
    if not c.large:
        return io.BytesIO(content.read_blob(store.reader(repo), c.oid))
    handle = blobs.open(c.oid)
    if handle.seekable():
        return handle
    # zip and numpy readers seek: a stream is copied first (the caller closes the copy)
    spool = tempfile.TemporaryFile()  # noqa: SIM115
    with handle:
        shutil.copyfileobj(handle, spool, 1024 * 1024)
    spool.seek(0)
    return spool


def keep(session: Session, scan: FileScan) -> FileScan:
    """Store a verdict once: a second scan of the same bytes (two workers) keeps the first."""
    try:
        with session.begin_nested():
            session.add(scan)
    except IntegrityError:
        found = session.get(FileScan, scan.oid)
        assert found is not None
        return found
    return scan


def file_status(scan: FileScan | None, path: str) -> dict[str, Any]:
    """`securityFileStatus` as huggingface_hub's RepoFile requires it (all three keys)."""
    status = scan.status if scan else "queued"
    pickle: dict[str, Any] = {"status": status}
    if scan is not None:
        pickle["version"] = scan.scanner
        if scan.message:
            pickle["message"] = scan.message
        if not path.lower().endswith(scanner.SAFETENSORS):
            pickle["pickleImports"] = scan.pickle_imports
    # No antivirus runs here (ClamAV needs signatures from the network): said, not faked.
    return {"status": status, "avScan": {"status": "unscanned"}, "pickleImportScan": pickle}


def repo_status(session: Session, store: RepoStore, repo: Repo) -> dict[str, Any]:
    """`securityRepoStatus` of the repo's main branch."""
    if repo.head_sha is None:
        return {"scansDone": True, "filesWithIssues": []}
    gitrepo = store.reader(repo)
    found = candidates(gitrepo, repo, content.resolve_revision(gitrepo, repo.head_sha))
    scans = verdicts(session, [c.oid for c in found])
    issues = [
        {"path": c.path, "level": scans[c.oid].status}
        for c in found
        if c.oid in scans and scans[c.oid].status in ISSUES
    ]
    return {"scansDone": all(c.oid in scans for c in found), "filesWithIssues": issues}


def unsafe_allowed(session: Session, repo: Repo) -> bool:
    return session.get(UnsafeWeightsAllowed, repo.pk) is not None


def allow_unsafe(session: Session, *, repo: Repo, allowed: bool, by: str) -> None:
    row = session.get(UnsafeWeightsAllowed, repo.pk)
    if allowed and row is None:
        session.add(UnsafeWeightsAllowed(repo_pk=repo.pk, allowed_by=by))
    elif not allowed and row is not None:
        session.delete(row)
    session.flush()
