"""What accounts add to a hub process: the join and new-organization pages, profiles, and the
audit log for org and site admins."""

from __future__ import annotations

from hugbox.accounts import api, pages
from hugbox.context import Context
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(api.router)  # the audit log
    wiring.pages.append(pages.router)
    wiring.fallback_pages.append(pages.profile_router)  # `/{namespace}`
