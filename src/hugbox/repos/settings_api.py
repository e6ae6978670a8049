"""A namespace's repositories with the storage each uses (`list_user_repos`, `hf repos list`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from hugbox.deps import CallerDep, SessionDep, SettingsDep
from hugbox.pagination import decode_cursor, paginate
from hugbox.repos import service
from hugbox.repos.models import Repo
from hugbox.repos.schemas import RepoStorageInfo, iso
from hugbox.wire import returns

router = APIRouter()


@router.get("/api/settings/repositories", **returns(list[RepoStorageInfo]))
def list_user_repos(
    request: Request, response: Response, session: SessionDep, caller: CallerDep,
    settings: SettingsDep, cursor: str | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    return _page(request, response, session, caller, settings, None, cursor)


@router.get(
    "/api/organizations/{namespace}/settings/repositories", **returns(list[RepoStorageInfo])
)
def list_org_repos(
    request: Request, response: Response, session: SessionDep, caller: CallerDep,
    settings: SettingsDep, namespace: str, cursor: str | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    return _page(request, response, session, caller, settings, namespace, cursor)


def _page(
    request: Request, response: Response, session: SessionDep, caller: CallerDep,
    settings: SettingsDep, namespace: str | None, cursor: str | None,
) -> list[dict[str, Any]]:  # fmt: skip
    offset, size = decode_cursor(cursor), settings.list_page_size
    unreachable = request.app.state.repo_hooks.unreachable_orgs(session, caller)
    owned = service.list_owned_repos(
        session, caller=caller, namespace=namespace, unreachable=unreachable, offset=offset,
        page_size=size + 1,
    )  # fmt: skip
    page = paginate(request, response, owned.repos, offset=offset, page_size=size)
    return [_storage_info(repo, owned.total_storage) for repo in page]


def _storage_info(repo: Repo, total: int) -> dict[str, Any]:
    return {
        "id": repo.repo_id,
        "type": repo.type.value,
        "updatedAt": iso(repo.last_modified),
        "visibility": "private" if repo.private else "public",
        "storage": repo.used_storage,
        "storagePercent": 100 * repo.used_storage / total if total else 0,
    }
