"""Secrets in commits: every new small text file of every pushed ref is checked once per blob;
a hub token found in a public repo is revoked at once (anyone may read it there) and its owner
notified, as are those found in a private repo the moment it turns public. What else is found
is shown to the repo's writers only (its settings page)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hugbox.auth import service as auth
from hugbox.errors import HubError
from hugbox.events.models import RepoEvent
from hugbox.jobs import service as jobs
from hugbox.notifications.service import notify
from hugbox.repos import content
from hugbox.repos.models import Repo
from hugbox.repos.store import RepoStore
from hugbox.scanning import secrets
from hugbox.scanning.models import SECRETS_JOB, SecretScan
from hugbox.storage import git

log = logging.getLogger(__name__)


def on_ref_moved(store: RepoStore, session: Session, event: RepoEvent) -> None:
    """Queue a secrets check of each new text file of the pushed commit (known blobs are
    answered from their record: a token seen before in a private repo is revoked here)."""
    repo = session.get(Repo, event.repo_pk)
    new = event.data.get("new")
    if repo is None or new is None:
        return
    try:
        found = _text_files(store.reader(repo), event.data.get("old"), new)
    except HubError:
        return
    known = {row.oid: row for row in _scans(session, [item.oid for item in found])}
    for item in found:
        if item.oid in known:
            _revoke_if_public(session, repo, item.path, known[item.oid].findings)
        else:
            payload = {"repo_pk": repo.pk, "path": item.path, "oid": item.oid}
            jobs.enqueue(session, kind=SECRETS_JOB, key=item.oid, payload=payload)


def on_repo_updated(store: RepoStore, session: Session, event: RepoEvent) -> None:
    """A repo turned public: the hub tokens in its main branch's files are published now."""
    if event.data.get("private") != [True, False]:
        return
    repo = session.get(Repo, event.repo_pk)
    if repo is None or repo.head_sha is None:
        return
    files = _text_files(store.reader(repo), None, repo.head_sha)
    paths = {item.oid: item.path for item in files}
    for scan in _scans(session, list(paths)):
        _revoke_if_public(session, repo, paths[scan.oid], scan.findings)


def check_blob(store: RepoStore, session: Session, payload: dict[str, Any]) -> None:
    """The job: find the secrets in one blob, keep them, and revoke what is published."""
    repo = session.get(Repo, payload["repo_pk"])
    if repo is None or session.get(SecretScan, payload["oid"]) is not None:
        return
    data = content.read_blob(store.reader(repo), payload["oid"])
    findings = [vars(f) for f in secrets.find_secrets(data)]
    try:
        with session.begin_nested():
            session.add(SecretScan(oid=payload["oid"], findings=findings))
    except IntegrityError:  # another worker kept it meanwhile
        return
    if findings:
        log.info("%d secrets in %s of %s", len(findings), payload["path"], repo.repo_id)
    _revoke_if_public(session, repo, payload["path"], findings)


def findings_at_head(session: Session, store: RepoStore, repo: Repo) -> list[dict[str, Any]]:
    """What the repo's writers see: each finding of main's files (kind, path, line)."""
    if repo.head_sha is None:
        return []
    files = _text_files(store.reader(repo), None, repo.head_sha)
    paths = {item.oid: item.path for item in files}
    return [
        {"path": paths[scan.oid], "kind": f["kind"], "line": f["line"]}
        for scan in _scans(session, list(paths))
        for f in scan.findings
    ]


def _text_files(gitrepo: git.Repository, old: str | None, new: str) -> list[git.TreeItem]:
    """New files small enough to be text worth reading (LFS pointers are not: their objects
    are data, and the pointer holds only a hash)."""
    items = [i for i in git.new_blobs(gitrepo, old, new) if i.size <= secrets.MAX_TEXT]
    return [i for i in items if not _is_pointer(gitrepo, i)]


def _is_pointer(gitrepo: git.Repository, item: git.TreeItem) -> bool:
    if item.size > git.LFS_POINTER_MAX:
        return False
    return git.parse_lfs_pointer(content.read_blob(gitrepo, item.oid)) is not None


def _scans(session: Session, oids: list[str]) -> list[SecretScan]:
    if not oids:
        return []
    return list(session.scalars(select(SecretScan).where(SecretScan.oid.in_(set(oids)))))


def _revoke_if_public(
    session: Session, repo: Repo, path: str, findings: list[dict[str, Any]]
) -> None:
    if repo.private:
        return
    for finding in findings:
        if finding.get("token_hash"):
            where = f"{repo.repo_id}/{path}"
            owner = auth.revoke_leaked(session, token_hash=finding["token_hash"], where=where)
            if owner is not None:
                notify(session, owner.id, "token.leaked", _leaked_note(where, finding["line"]),
                       "/settings/tokens")  # fmt: skip


def _leaked_note(where: str, line: int) -> str:
    return (
        f"One of your access tokens was published in {where} (line {line}), where anyone can "
        "read it, so it has been revoked. Create a new token, and remove the old one from the "
        "file and from the repository's history."
    )
