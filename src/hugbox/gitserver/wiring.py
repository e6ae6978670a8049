"""What git's smart HTTP adds to a hub process: clone, fetch and push."""

from __future__ import annotations

from hugbox.context import Context
from hugbox.gitserver import api
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(api.router)
