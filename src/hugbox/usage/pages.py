"""Usage pages: an account's storage (largest repos and files, how to free space), the site
admins' view of the top accounts and repos (storage, downloads, requests, inference) and of who
is rate limited now, and the downloads chart of each repo page."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from hugbox.auth.models import Account, AccountKind
from hugbox.auth.service import Caller, get_account
from hugbox.auth.sessions import PageCaller
from hugbox.deps import SessionDep, SettingsDep
from hugbox.errors import AuthenticationRequired, Forbidden
from hugbox.plans.watch import limiter_of
from hugbox.repos.models import Repo
from hugbox.usage import admin, downloads, ranking, storage
from hugbox.usage.api import Days
from hugbox.web.templates import render

router = APIRouter(tags=["pages"])
CHART_WIDTH, CHART_HEIGHT = 300, 60


@dataclass(frozen=True)
class Chart:
    """The last 30 days of downloads as an inline SVG polyline (no script, no library)."""

    counts: list[int]
    points: str
    total: int
    peak: int


def downloads_chart(request: Request, session: Session, repo: Repo) -> Chart:
    counts = downloads.daily_downloads(session, repo.pk)
    peak = max(counts) or 1
    step = CHART_WIDTH / (len(counts) - 1)
    points = " ".join(
        f"{i * step:.1f},{CHART_HEIGHT - (CHART_HEIGHT - 4) * c / peak - 2:.1f}"
        for i, c in enumerate(counts)
    )
    return Chart(counts, points, sum(counts), max(counts))


@router.get("/settings/storage")
def storage_page(
    request: Request, session: SessionDep, caller: PageCaller, settings: SettingsDep
) -> Response:
    return _storage(request, session, settings, _viewer(caller))


@router.get("/organizations/{org}/settings/storage")
def org_storage_page(
    request: Request, session: SessionDep, caller: PageCaller, settings: SettingsDep, org: str
) -> Response:
    user = _viewer(caller)
    account = get_account(session, org, kind=AccountKind.ORG)
    if caller.org_role(account.id) is None and not user.is_admin:
        raise Forbidden(f"Only members of {account.name} can see its storage")
    return _storage(request, session, settings, account)


def _storage(request: Request, session: Session, settings: SettingsDep, owner: Account) -> Response:
    return render(
        request, "usage/storage.html", owner=owner,
        used=storage.storage_used(session, owner.id),
        quota=storage.quota_for(session, owner, settings=settings),
        repos=storage.largest_repos(session, owner.id),
    )  # fmt: skip


@router.get("/admin/usage")
def admin_page(
    request: Request, session: SessionDep, caller: PageCaller, days: Days = 30
) -> Response:
    if not _viewer(caller).is_admin:
        raise Forbidden("Only site admins can see the usage of the whole hub")
    view = admin.read_view(session, limiter_of(request), days=days, limit=ranking.TOP)
    return render(request, "usage/admin.html", view=view, top=view.top, periods=ranking.PERIODS)


def _viewer(caller: Caller) -> Account:
    if caller.user is None:
        raise AuthenticationRequired("Log in to see this page.")
    return caller.user
