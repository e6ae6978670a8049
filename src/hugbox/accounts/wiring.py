"""What accounts add to a hub process: the join and new-organization pages, and profiles."""

from __future__ import annotations

from hugbox.accounts import pages
from hugbox.context import Context
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    wiring.pages.append(pages.router)
    wiring.fallback_pages.append(pages.profile_router)  # `/{namespace}`
