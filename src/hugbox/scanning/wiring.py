"""What scanning adds to a hub process: a follower of commits that queues scans, the job that
runs them, verdicts in repos' answers and pages (through repos' hooks), and the check the
Inference API makes before it loads a model."""

from __future__ import annotations

from functools import partial

from hugbox.context import Context
from hugbox.events import service as events
from hugbox.repos.models import RepoType
from hugbox.scanning import api, leaks, pages, service
from hugbox.scanning.models import SCAN_JOB, SECRETS_JOB
from hugbox.scanning.tasks import Scans
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(api.router)
    wiring.pages.append(pages.router)
    hooks = wiring.hooks
    hooks.info_fields.setdefault(RepoType.MODEL, []).append(api.info_fields)
    hooks.listing.append(api.with_file_status)
    hooks.file_badges.append(pages.file_badges)
    hooks.repo_page["security"] = pages.security_banner
    hooks.settings_page["security"] = pages.security_settings
    follow = partial(service.on_ref_moved, context.store)
    wiring.subscribers.append(events.Subscriber("scanning", {events.REF_MOVED}, follow))
    pushed = partial(leaks.on_ref_moved, context.store)
    wiring.subscribers.append(events.Subscriber("secrets", {events.REF_MOVED}, pushed))
    published = partial(leaks.on_repo_updated, context.store)
    wiring.subscribers.append(events.Subscriber("secrets.public", {events.REPO_UPDATED}, published))
    scans = Scans(context.database, context.store, context.blobs)
    wiring.job(SCAN_JOB, scans.run)
    wiring.job(SECRETS_JOB, scans.check_secrets)
    wiring.model_checks.append(scans.check_weights)
