"""What the usage part adds to a hub process: download counting on `/resolve/` and request
counting on every route (both written off the request path), storage measured after each change
of a repo's refs, quotas checked before uploads, the storage and admin pages, the admin's JSON
view and each repo page's downloads chart."""

from __future__ import annotations

import logging
import time
from functools import partial

from fastapi import Request
from sqlalchemy.orm import Session

from hugbox.context import Context
from hugbox.events import service as events
from hugbox.events.models import RepoEvent
from hugbox.repos.models import Repo, RepoFields
from hugbox.repos.store import RepoStore
from hugbox.usage import api, downloads, pages, requests, rules, storage
from hugbox.usage.batches import Batch, install_flusher
from hugbox.usage.downloads import DownloadCounter
from hugbox.usage.requests import RequestHit
from hugbox.wiring import Wiring

log = logging.getLogger(__name__)
ROLL_UP_JOB = "usage.roll_up"
# A repo deleted, moved or made private needs no work here: accounts' use is summed from the
# repo rows as they are now. The subscriber still follows them, to re-measure a repo whose
# measure is missing (one made before this part existed).
STORAGE_EVENTS = {
    events.REPO_CREATED, events.REF_MOVED, events.REPO_DELETED, events.REPO_MOVED,
    events.REPO_UPDATED,
}  # fmt: skip


def install(wiring: Wiring, context: Context) -> None:
    counter = DownloadCounter(context.database)
    requested = Batch[RequestHit](context.database, requests.record_requests)
    wiring.api.append(api.router)
    wiring.pages.append(pages.router)
    wiring.hooks.downloaded.append(partial(note_download, counter))
    wiring.observers.append(partial(requests.note_request, requested))
    wiring.hooks.upload_check.append(partial(storage.check_upload, settings=context.settings))
    wiring.hooks.repo_page["downloads_chart"] = pages.downloads_chart
    wiring.subscribers.append(
        events.Subscriber("usage.storage", STORAGE_EVENTS, partial(on_repo_event, context.store))
    )
    wiring.job(ROLL_UP_JOB, lambda _payload: _roll_up(context), every=3600)
    install_flusher(wiring, [counter, requested])


def note_download(counter: DownloadCounter, request: Request, repo: RepoFields, path: str) -> None:
    """Count a fetch of one of the repo's files if HF would: only a set insert here."""
    if not rules.counts_as_download(repo.type, repo.library_name, path):
        return
    bearer = getattr(request.state, "bearer", None)
    user_id = getattr(bearer, "user_id", None)
    client = request.client.host if request.client else "unknown"
    visitor = f"u:{user_id}" if user_id is not None else f"ip:{client}"
    counter.note(repo.pk, visitor, _now())


def _now() -> float:
    return time.time()


def on_repo_event(store: RepoStore, session: Session, event: RepoEvent) -> None:
    repo = session.get(Repo, event.repo_pk)
    if repo is None:
        return  # deleted: its rows went with it
    if event.kind in (events.REPO_CREATED, events.REF_MOVED) or repo.used_storage == 0:
        storage.measure(session, store, repo)


def _roll_up(context: Context) -> None:
    downloads.roll_up(context.database)
    with context.database.session() as session:
        requests.prune(session)
