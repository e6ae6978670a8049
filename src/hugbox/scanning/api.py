"""Scan verdicts where clients read them: `/scan`, `model_info(securityStatus=True)`, and
`securityFileStatus` on expanded tree and paths-info entries (through repos' hooks)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from hugbox.deps import SessionDep, StoreDep
from hugbox.repos.deps import ReadableRepo
from hugbox.repos.models import Repo, RepoFields
from hugbox.scanning import scanner, service
from hugbox.scanning.schemas import SecurityRepoStatus
from hugbox.wire import returns

router = APIRouter()
API = "/api/{repo_type:repotype}/{namespace}/{name}"


@router.get(API + "/scan", **returns(SecurityRepoStatus))
def get_scan(repo: ReadableRepo, session: SessionDep, store: StoreDep) -> Any:
    return service.repo_status(session, store, repo)


def info_fields(request: Request, session: Session, fields: RepoFields) -> dict[str, Any]:
    """`securityRepoStatus`, only when asked for (`?securityStatus=true`), as on HF."""
    if request.query_params.get("securityStatus", "").lower() not in ("1", "true"):
        return {}
    repo = session.get(Repo, fields.pk)
    if repo is None:
        return {}
    return {"securityRepoStatus": service.repo_status(session, request.app.state.store, repo)}


def with_file_status(
    request: Request, session: Session, repo: Repo, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Expanded entries (those with `lastCommit`) of scanned files get `securityFileStatus`;
    a plain listing stays as cheap as it was."""
    files = [i for i in items if "lastCommit" in i and scanner.scanned(i.get("path", ""))]
    scans = service.verdicts(session, [_oid(item) for item in files])
    for item in files:
        item["securityFileStatus"] = service.file_status(scans.get(_oid(item)), item["path"])
    return items


def _oid(item: dict[str, Any]) -> str:
    return str(item["lfs"]["oid"] if "lfs" in item else item["oid"])
