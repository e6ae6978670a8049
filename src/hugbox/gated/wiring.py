"""What gated repos add to a hub process: access requests, by API and on their pages."""

from __future__ import annotations

from hugbox.context import Context
from hugbox.gated import api, pages
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(api.router)
    wiring.pages.append(pages.router)
