"""Waking sleeping apps for the proxy, and the pages a browser sees while an app is not there."""

from __future__ import annotations

import asyncio
import html
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from hugbox.errors import HubError, ServiceUnavailable

log = logging.getLogger(__name__)

RETRY_AFTER = "5"
T = TypeVar("T")
Wake = Callable[[], Coroutine[Any, Any, T]]


class Waker(Generic[T]):
    """At most one wake per space at a time, shared by every request that waits for it; a wake
    outlives the requests that started it (a browser gets the waking page and goes away)."""

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout
        self._wakes: dict[str, asyncio.Task[T]] = {}
        self._failures: dict[str, str] = {}

    def start(self, repo_id: str, wake: Wake[T]) -> asyncio.Task[T]:
        task = self._wakes.get(repo_id)
        if task is None:
            task = asyncio.create_task(wake(), name=f"wake {repo_id}")
            self._wakes[repo_id] = task
            self._failures.pop(repo_id, None)
            task.add_done_callback(lambda done: self._finished(repo_id, done))
        return task

    async def wait(self, repo_id: str, wake: Wake[T]) -> T:
        """The wake's result, or 503 with Retry-After when it fails or takes over the timeout."""
        try:
            # shield: a client that gives up must not cancel the wake for everyone else.
            return await asyncio.wait_for(asyncio.shield(self.start(repo_id, wake)), self.timeout)
        except HubError as error:
            if error.status_code == 503:
                error.headers.setdefault("Retry-After", RETRY_AFTER)
            raise
        except TimeoutError as error:
            message = f"The space {repo_id} is still starting; try again in a few seconds"
            raise ServiceUnavailable(message, headers={"Retry-After": RETRY_AFTER}) from error

    def failure(self, repo_id: str) -> str | None:
        """Why the last wake of this space failed, until the next one starts."""
        return self._failures.get(repo_id)

    def _finished(self, repo_id: str, task: asyncio.Task[T]) -> None:
        if self._wakes.get(repo_id) is task:
            del self._wakes[repo_id]
        if task.cancelled() or (error := task.exception()) is None:
            return
        message = error.message if isinstance(error, HubError) else "The space did not start"
        self._failures[repo_id] = message
        log.info("waking %s failed: %r", repo_id, error)

    async def close(self) -> None:
        tasks = list(self._wakes.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:38rem;margin:12vh auto;padding:0 1rem;"
    "color:#1f2937}code{font-size:15px}.error{color:#b91c1c}a{color:#2563eb}"
)


def _page(title: str, body: str) -> bytes:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    ).encode()


def error_page(*, status: int, message: str, hub_link: str, request_id: str) -> bytes:
    text = html.escape(message)
    return _page(
        f"{status} · {message}",
        f"<h1>{status}</h1><p class=error>{text}</p>"
        f'<p><a href="{html.escape(hub_link)}">Back to the hub</a></p>'
        f"<p><small>Request id <code>{html.escape(request_id)}</code></small></p>",
    )


# Polls the stage endpoint every second and reloads once the app answers. A `__sign` in the
# page's query is the visitor's credential, so the polls carry it too.
_POLL = """<script>(() => {
  const sign = new URLSearchParams(location.search).get("__sign");
  const url = STAGE_URL + (sign ? "?__sign=" + encodeURIComponent(sign) : "");
  const stage = document.getElementById("stage"), error = document.getElementById("error");
  async function poll() {
    try {
      const answer = await (await fetch(url, {cache: "no-store"})).json();
      if (answer.ready) { location.reload(); return; }
      stage.textContent = answer.stage || "unknown";
      error.textContent = answer.error || "";
    } catch (e) { error.textContent = "The spaces server does not answer; retrying"; }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();</script>"""


def waking_page(*, repo_id: str, stage: str, stage_url: str, hub_link: str) -> bytes:
    name = html.escape(repo_id)
    # json.dumps makes a JS string; escaping `<` keeps `</script>` out of it.
    script = _POLL.replace("STAGE_URL", json.dumps(stage_url).replace("<", "\\u003c"))
    return _page(
        f"{repo_id} is waking up",
        f"<h1>{name} is waking up</h1>"
        "<p>This space was asleep. It is starting now, and this page reloads when it is ready.</p>"
        f"<p>Stage: <code id=stage>{html.escape(stage)}</code></p><p class=error id=error></p>"
        f'<p><a href="{html.escape(hub_link)}">{name} on the hub</a>: logs and settings.</p>'
        + script,
    )
