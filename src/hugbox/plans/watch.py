"""What site admins see of the limiter now: the callers refused in the current window (shared by
every replica when Redis counts), and today's top inference callers, read from the allowance's
own counts. Both are read where they are counted: nothing more is written for them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.auth.models import Account
from hugbox.plans import allowance
from hugbox.plans.limiter import REFUSAL_FIELDS, Limiter


def limiter_of(request: Request) -> Limiter:
    limiter: Limiter = request.app.state.plan_limiter
    return limiter


@dataclass(frozen=True)
class Refused:
    """A caller (a user, or an IP address) refused in the current window of one bucket."""

    name: str
    kind: str  # "user" | "ip"
    bucket: str
    since: datetime  # the first refusal any replica saw
    refused: int  # refusals so far in this window
    quota: int


def limited_now(limiter: Limiter) -> list[Refused]:
    """Most refused first."""
    window = int(time.time()) // limiter.catalog.window
    found = []
    for member, since in limiter.counters.marks(f"refused/{window}").items():
        bucket, key, user, quota = member.split(REFUSAL_FIELDS)
        used = limiter.counters.get(f"{bucket}/{key}/{window}")
        kind, name = ("user", user) if user else ("ip", key.removeprefix("ip"))
        at = datetime.fromtimestamp(since, UTC)
        found.append(Refused(name, kind, bucket, at, max(used - int(quota), 1), int(quota)))
    return sorted(found, key=lambda r: (-r.refused, r.since))


@dataclass(frozen=True)
class InferenceUse:
    """One caller's inference today (UTC): requests and compute seconds."""

    name: str
    kind: str  # "user" | "ip"
    requests: int
    seconds: float


def inference_today(session: Session, limiter: Limiter, *, limit: int) -> list[InferenceUse]:
    """The callers with the most inference requests today, then the most compute."""
    requests_key, ms_key = allowance.keys_of("*")
    requests = _by_caller(limiter.counters.scan(requests_key))
    ms = _by_caller(limiter.counters.scan(ms_key))
    ranked = sorted(requests, key=lambda k: (-requests[k], -ms.get(k, 0), k))[:limit]
    names = _user_names(session, [key for key in ranked if key.startswith("u")])
    found = []
    for key in ranked:
        kind, name = ("user", names.get(key)) if key.startswith("u") else ("ip", key[2:])
        if name is not None:  # a deleted user's use is no one's
            found.append(InferenceUse(name, kind, requests[key], ms.get(key, 0) / 1000))
    return found


def _by_caller(counts: dict[str, int]) -> dict[str, int]:
    """`inference-…/<who>/<day>` keys by `<who>`."""
    return {key.split("/", 1)[1].rsplit("/", 1)[0]: count for key, count in counts.items()}


def _user_names(session: Session, keys: list[str]) -> dict[str, str]:
    ids = [int(key[1:]) for key in keys if key[1:].isdigit()]
    rows = session.execute(select(Account.id, Account.name).where(Account.id.in_(ids)))
    return {f"u{user_id}": name for user_id, name in rows}
