"""The site admins' usage view, one reading for the page and the JSON API: the top accounts and
repos by storage, downloads and requests, today's top inference callers and who is being rate
limited now (the last two from the limiter's own counts, `plans/watch.py`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from hugbox.errors import BadRequest
from hugbox.plans import watch
from hugbox.plans.limiter import Limiter
from hugbox.usage import ranking
from hugbox.usage.ranking import Rankings, RequestRankings


@dataclass(frozen=True)
class AdminView:
    days: int  # the period the request tables are ranked by
    top: Rankings
    requests: RequestRankings
    inference: list[watch.InferenceUse]
    limited: list[watch.Refused]
    enforced: bool  # inference and refusals are only counted when limits are enforced
    window: int


def read_view(session: Session, limiter: Limiter, *, days: int, limit: int) -> AdminView:
    if days not in ranking.PERIODS:
        raise BadRequest(f"`days` must be one of {', '.join(map(str, ranking.PERIODS))}")
    return AdminView(
        days=days,
        top=ranking.top(session, limit=limit),
        requests=ranking.top_requests(session, days=days, limit=limit),
        inference=watch.inference_today(session, limiter, limit=limit),
        limited=watch.limited_now(limiter),
        enforced=limiter.enforce,
        window=limiter.catalog.window,
    )


def as_json(view: AdminView) -> dict[str, Any]:
    """`GET /api/admin/usage` (`usage.schemas.AdminUsage`)."""
    requests = asdict(view.requests)
    return {
        "days": view.days,
        "rateLimitsEnforced": view.enforced,
        "window": view.window,
        "requests": {group: [_requests(r) for r in rows] for group, rows in requests.items()},
        "storage": _measure(view.top, "storage"),
        "downloads": _measure(view.top, "downloads"),
        "inference": [_inference(use) for use in view.inference],
        "rateLimited": [_refused(refused) for refused in view.limited],
    }


def _inference(use: watch.InferenceUse) -> dict[str, Any]:
    seconds = round(use.seconds, 3)
    return {"name": use.name, "kind": use.kind, "requests": use.requests, "computeSeconds": seconds}


def _refused(refused: watch.Refused) -> dict[str, Any]:
    since = refused.since.isoformat().replace("+00:00", "Z")
    return {**asdict(refused), "since": since}


def _requests(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("name", "today", "week", "month")}


def _measure(top: Rankings, measure: str) -> dict[str, list[dict[str, Any]]]:
    groups = {"users": top.users, "orgs": top.orgs, "repos": top.repos}
    return {
        group: [{"name": r.name, "value": r.value} for r in by[measure]]
        for group, by in groups.items()
    }
