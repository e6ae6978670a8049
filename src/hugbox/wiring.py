"""What the parts add to a hub process, gathered from each domain's `install` before anything runs.

Each domain has one `wiring.install(wiring, context)` (warehouse's `includeme`): it names its
routes and pages, what it keeps on the app's state, the hooks it adds to repos' routes, the repo
events it follows and the background jobs it runs. `wire` calls them in a fixed order, once per
process; `create_app` builds the web app from the result and `hugbox worker` takes only its jobs,
so a process without an app still has every subscriber.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import APIRouter
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session

from hugbox.context import Context
from hugbox.events.service import Subscriber
from hugbox.jobs.worker import Handler
from hugbox.middleware import Observe
from hugbox.repos.hooks import RepoHooks
from hugbox.repos.models import Repo
from hugbox.web.templates import ContextProcessor

Hook = Callable[[], Awaitable[None]]
# A check the Inference API makes before it loads a model at a commit (session, repo, commit id):
# it raises a HubError to refuse (a scan found the weights unsafe).
ModelCheck = Callable[[Session, Repo, str], None]


@dataclass
class Wiring:
    api: list[APIRouter] = field(default_factory=list)
    pages: list[APIRouter] = field(default_factory=list)
    # Matched after every other page: `/{namespace}` would shadow what the others serve.
    fallback_pages: list[APIRouter] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # set on `app.state` (hugbox.deps)
    page_context: list[ContextProcessor] = field(default_factory=list)
    hooks: RepoHooks = field(default_factory=RepoHooks)
    subscribers: list[Subscriber] = field(default_factory=list)
    jobs: dict[str, Handler] = field(default_factory=dict)
    periodic: dict[str, float] = field(default_factory=dict)  # job kind: seconds between runs
    on_start: list[Hook] = field(default_factory=list)  # in the app's lifespan, in order
    on_stop: list[Hook] = field(default_factory=list)  # in reverse order
    model_checks: list[ModelCheck] = field(default_factory=list)  # on `app.state.model_checks`
    # Told of each answered request (scope, status, seconds, body bytes) after observability's
    # own observer (metrics, access line): usage counts each request's caller and repo.
    observers: list[Observe] = field(default_factory=list)
    # Every part's Prometheus metrics, which /metrics renders (hugbox.observability).
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def job(self, kind: str, handler: Handler, *, every: float | None = None) -> None:
        self.jobs[kind] = handler
        if every is not None:
            self.periodic[kind] = every


class Install(Protocol):
    def __call__(self, wiring: Wiring, context: Context) -> None: ...


def wire(context: Context, installs: list[Install]) -> Wiring:
    wiring = Wiring()
    for install in installs:
        install(wiring, context)
    return wiring
