"""The rate limiter: every request is counted in its bucket (`api`, `resolvers`, `pages`) for
its caller in a fixed window, answered with HF's `RateLimit` and `RateLimit-Policy` headers, and
refused with a 429 (`r=0;t=…`, `Retry-After`, HF's message) once the plan's quota is spent:
huggingface_hub then sleeps `t+1` seconds and retries where it retries (spec community-plans §4).

Cost: one dict lookup for the caller's plan and one counter increment per request, on the event
loop; a token's plan is read from the database once per `ttl` seconds (the bounded staleness of a
plan change: `HUGBOX_PLAN_CACHE_TTL`).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hugbox.auth.service import hash_token
from hugbox.db import Database
from hugbox.errors import TooManyRequests
from hugbox.plans import allowance
from hugbox.plans.config import Catalog
from hugbox.plans.counters import Counters
from hugbox.plans.models import Plan
from hugbox.plans.service import Limited, limited_by_token
from hugbox.web.csrf import SESSION_COOKIE

log = logging.getLogger(__name__)

_EXEMPT = re.compile(r"^/(?:health|ready|metrics)$|^/(?:static|avatars)/|^/favicon")
# File downloads: /resolve/ under every repo URL (legacy ids like `gpt2` have one segment), and
# the LFS and Xet reads it leads to.
_RESOLVERS = re.compile(
    r"^/(?:(?:datasets|spaces)/)?(?:[^/]+/)?[^/]+/resolve/|^/api/lfs/objects/[^/]+$"
    r"|^/xet/[^/]+/v\d/"
)
# Machines' routes: the JSON API, git, inference, the viewer and Xet uploads. The rest is HTML.
_API = re.compile(
    r"^/(?:api|v1|xet|datasets-server|pipeline|status)/|\.git(?:/|$)"
    r"|/(?:info/refs|git-upload-pack|git-receive-pack)$|^/models/[^/]+/[^/]+/"
)
_CACHE_SIZE = 10_000
REFUSAL_FIELDS = "\t"  # between a refusal mark's fields: in no bucket, key or user name


def is_exempt(path: str) -> bool:
    """The health probes and static files: no bucket, nobody's request (usage counts skip them)."""
    return _EXEMPT.match(path) is not None


def bucket_of(method: str, path: str) -> str | None:
    """Which bucket a request counts in; None for the health probes and static files."""
    if is_exempt(path):
        return None
    if method in ("GET", "HEAD") and _RESOLVERS.search(path):
        return "resolvers"
    if _API.search(path) or (method == "POST" and path.startswith("/models/")):
        return "api"
    return "pages"


def token_of(headers: dict[bytes, bytes]) -> str | None:
    """The credential a request carries: `Authorization` (Bearer, or git's Basic password) or
    the page session cookie."""
    header = headers.get(b"authorization")
    if header:
        scheme, _, value = header.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer":
            return value.strip() or None
        if scheme.lower() == "basic":
            return _basic_password(value)
        return None
    cookie = headers.get(b"cookie")
    return cookie_parser(cookie.decode("latin-1")).get(SESSION_COOKIE) if cookie else None


def _basic_password(value: str) -> str | None:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


class Callers:
    """Tokens' plans, read from the database at most once per `ttl` seconds per token."""

    def __init__(self, database: Database, ttl: float):
        self.database = database
        self.ttl = ttl
        self._known: dict[str, tuple[float, Limited | None]] = {}

    async def of(self, token: str) -> Limited | None:
        digest = hash_token(token)
        now = time.monotonic()
        known = self._known.get(digest)
        if known is not None and known[0] > now:
            return known[1]
        limited = await run_in_threadpool(self._read, token)
        if len(self._known) >= _CACHE_SIZE:
            self._known.clear()  # bounded: a flood of made-up tokens cannot grow it
        self._known[digest] = (now + self.ttl, limited)
        return limited

    def _read(self, token: str) -> Limited | None:
        try:
            with self.database.session() as session:
                return limited_by_token(session, token)
        except SQLAlchemyError as error:  # the request fails its own way; the limiter does not
            log.warning("rate limits: the plan of a token could not be read: %s", error)
            return None

    def forget(self) -> None:
        """Drop every cached plan (an admin just assigned one in this process)."""
        self._known.clear()


class RateLimitMiddleware:
    """Counts and limits every request (when `enforce`), and always sends the headers: with
    limits off they show the anonymous plan's full quota (r = q), as the spec asks."""

    def __init__(self, app: ASGIApp, limiter: Limiter):
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        bucket = bucket_of(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if bucket is None:
            await self.app(scope, receive, send)
            return
        limiter = self.limiter
        who = await limiter.who(scope) if limiter.enforce else None
        plan = who.plan if who else limiter.catalog.anonymous
        remaining, reset = limiter.count(bucket, who, plan)
        headers = limiter.headers(bucket, plan, remaining, reset)
        if remaining < 0:
            assert who is not None  # only a counted request goes over
            await limiter.refuse(scope, receive, send, bucket, who, reset, headers)
            return
        if who is not None and allowance.is_inference(scope):
            await allowance.metered(self.app, limiter, who, scope, receive, send, headers)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_limits)


class Limiter:
    """The counting behind `RateLimitMiddleware`, and what the pages show of it."""

    def __init__(self, catalog: Catalog, counters: Counters, callers: Callers, *, enforce: bool):
        self.catalog = catalog
        self.counters = counters
        self.callers = callers
        self.enforce = enforce
        self._policies: dict[tuple[str, int], bytes] = {}

    async def who(self, scope: Scope) -> Limited:
        token = token_of(dict(scope["headers"]))
        limited = await self.callers.of(token) if token else None
        if limited is not None:
            return limited
        client = scope.get("client")
        return Limited(key=f"ip{client[0] if client else '-'}", plan=self.catalog.anonymous)

    def count(self, bucket: str, who: Limited | None, plan: Plan) -> tuple[int, int]:
        """What remains of the window's quota after this request (< 0: over it), and the
        seconds until the window resets."""
        window = self.catalog.window
        now = int(time.time())
        reset = window - now % window
        quota = plan.quota(bucket)
        if who is None:
            return quota, reset
        count = self.counters.incr(f"{bucket}/{who.key}/{now // window}", window + 1)
        return quota - count, reset

    def used(self, bucket: str, key: str) -> int:
        window = self.catalog.window
        return self.counters.get(f"{bucket}/{key}/{int(time.time()) // window}")

    def headers(
        self, bucket: str, plan: Plan, remaining: int, reset: int
    ) -> list[tuple[bytes, bytes]]:
        quota = plan.quota(bucket)
        policy = self._policies.get((bucket, quota))
        if policy is None:
            text = f'"fixed window";"{bucket}";q={quota};w={self.catalog.window}'
            policy = self._policies[(bucket, quota)] = text.encode()
        state = f'"{bucket}";r={max(remaining, 0)};t={reset}'.encode()
        return [(b"ratelimit", state), (b"ratelimit-policy", policy)]

    async def refuse(
        self, scope: Scope, receive: Receive, send: Send, bucket: str, who: Limited, reset: int,
        headers: list[tuple[bytes, bytes]],
    ) -> None:  # fmt: skip
        plan = who.plan
        self.note_refusal(bucket, who)
        log.info("rate limited: %s %s (%s bucket, plan %s), retry in %d s",
                 scope["method"], scope["path"], bucket, plan.name, reset)  # fmt: skip
        error = TooManyRequests(self.message(bucket, plan))
        retry_after = (b"retry-after", b"%d" % reset)
        await allowance.answer(scope, receive, send, error, [*headers, retry_after])

    def note_refusal(self, bucket: str, who: Limited) -> None:
        """Who was refused in this window, for the admin view (`plans/watch.py`): a set
        insert, sent once per caller and window. How many were refused is read from the
        window's count itself, less the quota the member carries."""
        window, now = self.catalog.window, time.time()
        member = REFUSAL_FIELDS.join((bucket, who.key, who.user or "", str(who.plan.quota(bucket))))
        self.counters.mark(f"refused/{int(now) // window}", member, now, window + 1)

    def message(self, bucket: str, plan: Plan) -> str:
        window = self.catalog.window
        period = "5 minutes" if window == 300 else f"{window} seconds"
        return (
            f"We had to rate limit you, you hit the quota of {plan.quota(bucket)} {bucket} "
            f"requests per {period} period (plan {plan.name!r}). Ask your hugbox administrator "
            "for a higher plan to get higher limits."
        )
