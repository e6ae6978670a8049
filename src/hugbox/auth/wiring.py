"""What accounts' sign-in adds to a hub process: whoami, the login pages and their limiter."""

from __future__ import annotations

from hugbox.auth import api, pages
from hugbox.auth.sessions import LoginLimiter
from hugbox.context import Context
from hugbox.ratelimit import open_storage
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(api.router)
    wiring.pages.append(pages.router)
    # Where every sign-in limit counts (Redis, shared by replicas, when configured): one
    # connection pool for the process; sso's limit counts here too.
    storage = wiring.state["limit_storage"] = open_storage(context.settings.redis_url)
    wiring.state["login_limiter"] = LoginLimiter(storage)
