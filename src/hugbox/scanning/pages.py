"""Scan verdicts on pages: a badge per scanned file, a pickle's imports on its file page, a
banner on a repo with an unsafe file, and the setting that lets inference load it anyway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from hugbox.auth.sessions import PageCaller
from hugbox.deps import SessionDep
from hugbox.repos.content import RepoEntry, RepoFile
from hugbox.repos.models import Repo
from hugbox.repos.pages import WritablePageRepo, add_repo_page, repo_path, see_other
from hugbox.scanning import leaks, scanner, service
from hugbox.web.session import CheckedForm

router = APIRouter(tags=["pages"])
_LABELS = {"queued": "scanning", "safe": "safe", "caution": "caution", "error": "scan error",
           "suspicious": "suspicious", "unsafe": "unsafe"}  # fmt: skip


@dataclass(frozen=True)
class Badge:
    """What the file list and the file page show of one file's verdict."""

    level: str
    label: str
    title: str
    imports: list[dict[str, Any]]


def file_badges(session: Session, entries: list[RepoEntry]) -> dict[str, Badge]:
    files = [e for e in entries if isinstance(e, RepoFile) and scanner.scanned(e.path)]
    scans = service.verdicts(session, [_oid(f) for f in files])
    return {f.path: _badge(scans.get(_oid(f))) for f in files}


def _oid(file: RepoFile) -> str:
    return file.lfs.oid if file.lfs else file.blob_id


def _badge(scan: Any) -> Badge:
    if scan is None:
        return Badge("queued", _LABELS["queued"], "The security scan of this file is queued", [])
    title = scan.message or f"Scanned by {scan.scanner}"
    return Badge(scan.status, _LABELS.get(scan.status, scan.status), title, scan.pickle_imports)


def security_banner(request: Request, session: Session, repo: Repo) -> list[dict[str, str]]:
    """The files of main that the scan found unsafe (the repo page's banner lists them)."""
    status = service.repo_status(session, request.app.state.store, repo)
    return [f for f in status["filesWithIssues"] if f["level"] == "unsafe"]


def security_settings(request: Request, session: Session, repo: Repo) -> dict[str, Any]:
    store = request.app.state.store
    status = service.repo_status(session, store, repo)
    secrets = leaks.findings_at_head(session, store, repo)  # the settings page: writers only
    return {"allowed": service.unsafe_allowed(session, repo), "secrets": secrets, **status}


def save_security(
    repo: WritablePageRepo, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    allowed = form.get("allow_unsafe") == "on"
    by = caller.user.name if caller.user else "?"
    service.allow_unsafe(session, repo=repo, allowed=allowed, by=by)
    return see_other(f"{repo_path(repo)}/settings#security")


add_repo_page(router, "/settings/security", save_security, ("POST",))
