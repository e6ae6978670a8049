"""The scan job, and the scan the Inference API waits for before it loads a model's weights."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hugbox import audit
from hugbox.db import Database
from hugbox.repos import content
from hugbox.repos.models import Repo
from hugbox.repos.store import RepoStore
from hugbox.scanning import leaks, scanner, service
from hugbox.scanning.models import FileScan
from hugbox.storage.blobs import BlobStore


class Scans:
    def __init__(self, database: Database, store: RepoStore, blobs: BlobStore):
        self.database = database
        self.store = store
        self.blobs = blobs

    def run(self, payload: dict[str, Any]) -> None:
        """Scan one file's bytes unless another repo's commit had them scanned meanwhile."""
        with self.database.session() as session:
            repo = session.get(Repo, payload["repo_pk"])
            if repo is None or session.get(FileScan, payload["oid"]) is not None:
                return
            found = service.Candidate(
                payload["path"], payload["oid"], payload["size"], payload["large"]
            )
            scan = service.keep(
                session, service.scan_candidate(self.store, self.blobs, repo, found)
            )
            if scan.status in service.ISSUES:
                audit.record(session, "repo.scan_finding", actor=None, namespace=repo.namespace,
                             repo=(repo.type.value, repo.repo_id), path=found.path,
                             level=scan.status, imports=scan.pickle_imports)  # fmt: skip

    def check_secrets(self, payload: dict[str, Any]) -> None:
        with self.database.session() as session:
            leaks.check_blob(self.store, session, payload)

    def check_weights(self, session: Session, repo: Repo, commit: str) -> None:
        """Refuse a model with a pickle the scan finds unsafe, scanning any not yet scanned
        (loading a pickle runs it: this is the one place that waits for a verdict)."""
        if service.unsafe_allowed(session, repo):
            return
        gitrepo = self.store.reader(repo)
        found = service.candidates(gitrepo, repo, content.resolve_revision(gitrepo, commit))
        pickles = [c for c in found if not c.path.lower().endswith(scanner.SAFETENSORS)]
        scans = service.verdicts(session, [c.oid for c in pickles])
        for c in pickles:
            scan = scans.get(c.oid) or service.keep(
                session, service.scan_candidate(self.store, self.blobs, repo, c)
            )
            if scan.status == "unsafe":
                raise service.UnsafeWeights(_refusal(repo, c.path, scan))


def _refusal(repo: Repo, path: str, scan: FileScan) -> str:
    dangerous = [f"{i['module']}.{i['name']}" for i in scan.pickle_imports
                 if i["safety"] == "dangerous"]  # fmt: skip
    return (
        f"{repo.repo_id}: the security scan found {path} unsafe (it imports "
        f"{', '.join(dangerous) or 'dangerous code'}), and loading it would run that code. "
        "Publish the weights as safetensors, or let the repo's admins allow it in the repo's "
        "settings (Security scan)."
    )
