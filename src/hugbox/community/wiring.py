"""What discussions and pull requests add to a hub process."""

from __future__ import annotations

from hugbox.community import api
from hugbox.context import Context
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(api.router)
