"""What webhooks add to a hub process: the management API and pages, the subscriber that turns
repo events into deliveries, and the job that sends them."""

from __future__ import annotations

from functools import partial
from typing import Any

from hugbox.context import Context
from hugbox.events import service as events
from hugbox.webhooks import api, pages, service
from hugbox.webhooks.delivery import Deliverer
from hugbox.webhooks.payloads import MAKERS
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(api.router)
    wiring.pages.append(pages.router)
    on_event = partial(service.on_event, public_url=context.settings.public_url)
    wiring.subscribers.append(events.Subscriber("webhooks", set(MAKERS), on_event))
    wiring.job(service.DELIVER_JOB, Deliverer(context.database, context.settings).run)
    wiring.job(service.PRUNE_JOB, partial(prune, context), every=3600)


def prune(context: Context, _payload: dict[str, Any]) -> None:
    with context.database.session() as session:
        service.prune_deliveries(session)
