"""The delivery job: POST a delivery's payload to its webhook's URL, log the attempt, and retry
a failure later with back-off (each retry is a job of its own, so a worker never sleeps on one).

A target the allow-list refuses is logged as a failed delivery with the reason, never retried."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import httpx

from hugbox.db import Database
from hugbox.settings import Settings
from hugbox.webhooks import service, targets
from hugbox.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)

EXCERPT_BYTES = 1000  # of each response body, for the webhook's page
USER_AGENT = "hugbox-webhooks"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None = None
    error: str | None = None
    response: str = ""
    duration_ms: int = 0
    retry: bool = False  # worth trying again (the receiver failed, not the allow-list)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Request:
    """What one attempt sends, read from the database before the POST (no session held)."""

    url: str
    secret: str | None
    body: bytes
    number: int


class Deliverer:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.allow = targets.AllowList.parse(settings.webhook_allowed_hosts)
        self.timeout = settings.webhook_timeout
        self.max_attempts = settings.webhook_max_attempts
        self.backoff = settings.webhook_retry_backoff

    @cached_property
    def client(self) -> httpx.Client:
        """One client for every delivery: building one (its TLS context) costs more than a POST.
        No connection is kept: one made for a host must not carry another's request, even where
        both names lead to the same address (its TLS was checked for the first). Made on first
        use: most app instances (tests, the CLI) never deliver."""
        return httpx.Client(
            timeout=self.timeout, follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )  # fmt: skip

    def run(self, payload: dict[str, Any]) -> None:
        """The job handler: one attempt of the delivery `payload["id"]`."""
        request = self._next_request(str(payload.get("id")))
        if request is not None:
            self._record(str(payload["id"]), request, post(self.client, request, self.allow))

    def _next_request(self, delivery_id: str) -> Request | None:
        with self.database.session() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None or delivery.status != "pending":
                return None  # deleted with its webhook, or done (a job run twice)
            webhook = session.get(Webhook, delivery.webhook_id)
            if webhook is None:
                return None
            body = json.dumps(delivery.payload, separators=(",", ":")).encode()
            return Request(webhook.url, webhook.secret, body, len(delivery.attempts) + 1)

    def _record(self, delivery_id: str, request: Request, outcome: Outcome) -> None:
        """Log the attempt and settle the delivery, or ask for the next attempt."""
        with self.database.session() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None:
                return
            delivery.attempts.append(_attempt(request.number, outcome))
            if outcome.ok:
                delivery.status = "succeeded"
            elif outcome.retry and request.number < self.max_attempts:
                delay = self.backoff * 2 ** (request.number - 1)
                service.enqueue_delivery(session, delivery, delay=delay)
            else:
                delivery.status = "failed"
        log.info("webhook delivery %s attempt %s: %s", delivery_id, request.number, outcome)


def _attempt(number: int, outcome: Outcome) -> WebhookAttempt:
    return WebhookAttempt(
        number=number, duration_ms=outcome.duration_ms, status_code=outcome.status_code,
        error=outcome.error, response=outcome.response,
    )  # fmt: skip


def post(client: httpx.Client, request: Request, allow: targets.AllowList) -> Outcome:
    """One POST to the address the allow-list accepted; never follows a redirect (it could
    lead anywhere) and reads only the start of the answer."""
    started = time.perf_counter()
    try:
        target = targets.resolve(request.url, allow)
    except targets.TargetRefused as refused:
        return Outcome(error=f"Refused: {refused.message}")
    except targets.ResolveTimeout as slow:
        return Outcome(error=str(slow), duration_ms=_ms(started), retry=True)
    try:
        status, excerpt = _send(client, target, request)
    except httpx.HTTPError as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}", duration_ms=_ms(started), retry=True)
    return Outcome(status, response=excerpt, duration_ms=_ms(started), retry=status >= 300)


def _send(client: httpx.Client, target: targets.Target, request: Request) -> tuple[int, str]:
    headers = {"Host": target.host, "Content-Type": "application/json", "User-Agent": USER_AGENT}
    if request.secret:
        headers["X-Webhook-Secret"] = request.secret
    extensions = {"sni_hostname": httpx.URL(request.url).host}
    outgoing = client.build_request(
        "POST", target.url, content=request.body, headers=headers, extensions=extensions
    )
    response = client.send(outgoing, stream=True)
    try:
        return response.status_code, _excerpt(response)
    finally:
        response.close()


def _excerpt(response: httpx.Response) -> str:
    taken = b""
    for chunk in response.iter_raw():
        taken += chunk
        if len(taken) >= EXCERPT_BYTES:
            break
    return taken[:EXCERPT_BYTES].decode("utf-8", "replace")


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
