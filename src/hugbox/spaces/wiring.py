"""What spaces add to a hub process: their API and pages, their fields in repos' answers and
pages (through repos' hooks), and the rebuild that follows a pushed commit."""

from __future__ import annotations

from hugbox.context import Context
from hugbox.events import service as events
from hugbox.repos.models import RepoType
from hugbox.spaces import api, pages, service
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(api.router)
    wiring.pages.append(pages.router)
    hooks = wiring.hooks
    hooks.info_fields.setdefault(RepoType.SPACE, []).append(api.info_fields)
    hooks.configure.append(api.configure)
    hooks.copied.append(api.copied)
    hooks.repo_page["space"] = pages.space_view
    hooks.settings_page["space"] = pages.space_settings
    wiring.subscribers.append(events.Subscriber("spaces", {events.REF_MOVED}, service.on_ref_moved))
