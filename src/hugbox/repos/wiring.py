"""What repos add to a hub process: their API, files and commits, their pages, and the
reconciler that keeps the database in step with git."""

from __future__ import annotations

from hugbox.context import Context
from hugbox.repos import api, commits_api, files_api, files_pages, pages, settings_api
from hugbox.repos.reconcile import RECONCILE_JOB, Reconciler
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    wiring.api += [api.router, files_api.router, commits_api.router, settings_api.router]
    wiring.pages += [pages.router, files_pages.router]
    wiring.page_context.append(pages.repo_header_context)
    reconciler = Reconciler(context.database, context.store)
    wiring.job(RECONCILE_JOB, reconciler.handle, every=context.settings.reconcile_interval)
