"""What Xet storage adds to a hub process: its API, and Xet hashes in repos' listings,
downloads and copies (through repos' hooks)."""

from __future__ import annotations

from hugbox.context import Context
from hugbox.settings import PreuploadMode
from hugbox.wiring import Wiring
from hugbox.xet import api, service


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(api.router)
    wiring.hooks.listing.append(api.with_xet_hashes)
    wiring.hooks.download_headers.append(api.download_headers)
    wiring.hooks.copied.append(service.share_files)
    if context.settings.preupload_mode is PreuploadMode.XET:
        wiring.state["xet"] = service.open_storage(blobs=context.blobs, secret=context.secret)
