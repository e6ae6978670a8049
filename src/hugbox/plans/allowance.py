"""The inference allowance: requests and compute seconds per caller per UTC day, counted at the
API layer. The inference routes report each answer's compute time in `x-compute-time` (HF's
header); an answer without it (a stream, an OpenAI route) counts its wall time instead.
Over the allowance a call gets a 402, as HF's Inference Providers answer spent credits."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hugbox.error_responses import error_response
from hugbox.errors import HubError, PaymentRequired
from hugbox.plans.models import Plan
from hugbox.plans.service import Limited

if TYPE_CHECKING:
    from hugbox.plans.limiter import Limiter

DAY = 86_400
_INFERENCE = re.compile(
    r"^/(?:models/[^/]+/[^/]+(?:/.*)?|pipeline/.+|v1/(?:chat/completions|completions|embeddings))$"
)


def is_inference(scope: Scope) -> bool:
    return scope["method"] == "POST" and _INFERENCE.match(scope["path"]) is not None


@dataclass(frozen=True)
class Usage:
    """A caller's inference use today, against their plan's allowance."""

    requests: int
    seconds: float
    plan: Plan
    resets_in: int  # seconds until the next UTC day

    @property
    def exhausted(self) -> bool:
        requests, seconds = self.plan.inference_requests, self.plan.inference_seconds
        over_requests = requests is not None and self.requests >= requests
        return over_requests or (seconds is not None and self.seconds >= seconds)


def keys_of(key: str) -> tuple[str, str]:
    """Today's counters of a caller's inference (`*`: every caller's, to scan)."""
    day = int(time.time()) // DAY
    return f"inference-requests/{key}/{day}", f"inference-ms/{key}/{day}"


def usage(limiter: Limiter, who: Limited) -> Usage:
    requests, ms = (limiter.counters.get(k) for k in keys_of(who.key))
    return Usage(requests, ms / 1000, who.plan, DAY - int(time.time()) % DAY)


def refusal(spent: Usage) -> PaymentRequired:
    plan = spent.plan
    hours, minutes = divmod(spent.resets_in // 60, 60)
    return PaymentRequired(
        f"You have used your daily inference allowance ({plan.inference_requests} requests, "
        f"{plan.inference_seconds} compute seconds per day on plan {plan.name!r}). It renews in "
        f"{hours}h{minutes:02d}m; ask your hugbox administrator for a higher plan."
    )


async def metered(
    app: ASGIApp, limiter: Limiter, who: Limited, scope: Scope, receive: Receive, send: Send,
    headers: list[tuple[bytes, bytes]],
) -> None:  # fmt: skip
    """Run an inference call within the allowance, and count what it used."""
    today = usage(limiter, who)
    if today.exhausted:
        await answer(scope, receive, send, refusal(today), headers)
        return
    requests_key, ms_key = keys_of(who.key)
    limiter.counters.incr(requests_key, 2 * DAY)
    started = time.perf_counter()
    reported: float | None = None

    async def send_counted(message: Message) -> None:
        nonlocal reported
        if message["type"] == "http.response.start":
            reported = _compute_time(message)
            message["headers"] = [*message.get("headers", ()), *headers]
        elif not message.get("more_body", False):
            seconds = reported if reported is not None else time.perf_counter() - started
            limiter.counters.incr(ms_key, 2 * DAY, max(0, round(seconds * 1000)))
        await send(message)

    await app(scope, receive, send_counted)


def _compute_time(start: Message) -> float | None:
    for name, value in start.get("headers", ()):
        if name.lower() == b"x-compute-time":
            try:
                return float(value)
            except ValueError:
                return None
    return None


async def answer(
    scope: Scope, receive: Receive, send: Send, error: HubError,
    headers: list[tuple[bytes, bytes]],
) -> None:  # fmt: skip
    """`error` rendered as every other error (HF's headers, or a page), with `headers` added."""
    response = error_response(Request(scope), error)
    response.raw_headers.extend(headers)
    await response(scope, receive, send)
