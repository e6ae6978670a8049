"""What the dataset viewer adds to a hub process: its API (also on the datasets-server host),
its conversion jobs, and the repo events that start them."""

from __future__ import annotations

from hugbox.context import Context
from hugbox.events import service as events
from hugbox.viewer import api, service
from hugbox.viewer.reader import ReaderCache
from hugbox.viewer.service import Viewer
from hugbox.viewer.tasks import ViewerTasks
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    settings = context.settings
    viewer = Viewer(context.store, settings.data_dir / "viewer", ReaderCache())
    wiring.api.append(api.router)
    wiring.state["viewer"] = viewer
    tasks = ViewerTasks(context.database, viewer, int(settings.viewer_max_dataset_bytes))
    for kind, handler in tasks.handlers().items():
        wiring.job(kind, handler)
    wiring.subscribers.append(events.Subscriber("viewer", {events.REF_MOVED}, service.on_ref_moved))
