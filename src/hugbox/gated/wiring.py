"""What gated repos add to a hub process: access requests by API, the request form on a gated
repo's page and the admins' review page."""

from __future__ import annotations

from hugbox.context import Context
from hugbox.gated import api, pages
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(api.router)
    wiring.pages.append(pages.router)
    wiring.page_context.append(pages.gate_context)
