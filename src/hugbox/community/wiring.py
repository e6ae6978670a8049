"""What discussions and pull requests add to a hub process: their API and their pages."""

from __future__ import annotations

from hugbox.community import api, pages
from hugbox.context import Context
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(api.router)
    wiring.pages.append(pages.router)
