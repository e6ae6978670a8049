"""What notifications add to a hub process: their page and the header's unread count."""

from __future__ import annotations

from hugbox.context import Context
from hugbox.notifications import pages
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    wiring.pages.append(pages.router)
    wiring.page_context.append(pages.unread_badge)
