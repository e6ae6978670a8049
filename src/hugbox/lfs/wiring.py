"""What git-lfs's batch API adds to a hub process."""

from __future__ import annotations

from hugbox.context import Context
from hugbox.lfs import api
from hugbox.lfs.streams import PartStreams
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(api.router)
    wiring.state["lfs_streams"] = PartStreams()  # multipart parts streamed on to a bucket
