"""Prometheus metrics of the whole hub: requests by route template, large-file bytes, and what
is read at scrape time (database pool, job queue, spaces).

Routes are labelled by their template (`/api/{repo_type:repotype}/{namespace}/{name}`), never
the raw path: repo names would make one series per repo. Each process keeps its own numbers
(a scrape reaches one process: docs/deployment.md says how to scrape replicas and workers).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from hugbox.db import Database
from hugbox.jobs.models import Job, JobStatus
from hugbox.spaces.models import SpaceRuntime

log = logging.getLogger(__name__)

SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
UNMATCHED = "<unmatched>"  # requests no route answered: one label for all of them


def is_blob_route(template: str) -> bool:
    """Routes whose bodies are large files: downloads, LFS and Xet transfers."""
    return "/resolve/" in template or template.startswith(("/api/lfs/", "/xet/"))


class HttpMetrics:
    """Counts and times every request. `observe` is on every request's path: the label children
    are looked up once per (route, method, status) and kept."""

    def __init__(self, registry: CollectorRegistry):
        self.requests = Counter(
            "hugbox_http_requests", "Requests answered, by route template, method and status",
            ["route", "method", "status"], registry=registry,
        )  # fmt: skip
        self.duration = Histogram(
            "hugbox_http_request_duration_seconds", "Seconds from request to the end of the answer",
            ["route", "method"], buckets=SECONDS, registry=registry,
        )  # fmt: skip
        self.blob_sent = Counter(
            "hugbox_blob_sent_bytes", "Bytes of large files sent (downloads, LFS, Xet)",
            registry=registry,
        )  # fmt: skip
        self.blob_received = Counter(
            "hugbox_blob_received_bytes",
            "Bytes of large files received (LFS and Xet uploads, as their Content-Length says)",
            registry=registry,
        )  # fmt: skip
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram, bool]] = {}

    def observe(
        self, template: str, method: str, status: int, seconds: float, sent: int, received: int
    ) -> None:
        key = (template, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(template, method, str(status)),
                self.duration.labels(template, method),
                is_blob_route(template),
            )
        count, duration, blob = children
        count.inc()
        duration.observe(seconds)
        if blob:
            self.blob_sent.inc(sent)
            self.blob_received.inc(received)


class PoolCollector:
    """The database connection pool: connections in use and the pool's size, at scrape time."""

    def __init__(self, database: Database):
        self.database = database

    def collect(self) -> Iterator[Metric]:
        pool = self.database.engine.pool
        for name, what, read in (
            ("hugbox_db_pool_checked_out", "Connections in use", "checkedout"),
            ("hugbox_db_pool_size", "Connections the pool keeps", "size"),
        ):
            reader = getattr(pool, read, None)
            if reader is not None:  # pools that keep no count (SQLite in memory) have none
                yield GaugeMetricFamily(name, what, value=reader())


class QueueCollector:
    """The job queue and the spaces, read from the database at scrape time (indexed counts,
    a few ms): every replica and worker shares them, so each scrape sees the same numbers."""

    def __init__(self, database: Database):
        self.database = database

    def collect(self) -> Iterator[Metric]:
        try:
            with self.database.engine.connect() as connection:
                jobs = connection.execute(
                    select(Job.status, func.count()).where(Job.status != JobStatus.DONE)
                    .group_by(Job.status)
                ).all()  # fmt: skip
                oldest = connection.execute(
                    select(func.min(Job.run_after)).where(
                        Job.status == JobStatus.WAITING, Job.run_after <= datetime.now(UTC)
                    )
                ).scalar()
                stages = connection.execute(
                    select(SpaceRuntime.stage, func.count()).group_by(SpaceRuntime.stage)
                ).all()
        except SQLAlchemyError as error:  # a scrape must not fail for it: readiness says why
            log.warning("metrics: the database did not answer: %s", error)
            return
        yield _by_label("hugbox_jobs", "Jobs by status (done ones left out)", "status", jobs)
        yield GaugeMetricFamily(
            "hugbox_jobs_oldest_waiting_seconds",
            "How long the oldest job ready to run has waited for a worker (0: none waits)",
            value=_age(oldest),
        )
        yield _by_label(
            "hugbox_spaces", "Spaces by stage (RUNNING, SLEEPING, ...)", "stage", stages
        )


def _by_label(name: str, what: str, label: str, rows: Iterable[Sequence[Any]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, what, labels=[label])
    for value, count in rows:
        family.add_metric([str(value)], count)
    return family


def _age(since: datetime | None) -> float:
    if since is None:
        return 0.0
    return max(0.0, (datetime.now(UTC) - since.replace(tzinfo=since.tzinfo or UTC)).total_seconds())
