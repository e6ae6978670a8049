"""What accounts add to a hub process: the join and new-organization pages, profiles, and the
audit log for org and site admins (with the access decisions gated repos announce)."""

from __future__ import annotations

from hugbox.accounts import api, audit_events, pages
from hugbox.context import Context
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(api.router)  # the audit log
    wiring.pages.append(pages.router)
    wiring.fallback_pages.append(pages.profile_router)  # `/{namespace}`
    wiring.subscribers.append(audit_events.SUBSCRIBER)
