"""What observability adds to a hub process: /health, /ready, /metrics, the hub's metrics and
the observer of every request (which `app.py` hands to `RequestIdMiddleware`)."""

from __future__ import annotations

from hugbox.context import Context
from hugbox.observability import api
from hugbox.observability.access import RequestObserver
from hugbox.observability.metrics import HttpMetrics, PoolCollector, QueueCollector
from hugbox.settings import LogFormat
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    registry = wiring.registry
    registry.register(PoolCollector(context.database))
    registry.register(QueueCollector(context.database))
    wiring.api.append(api.router)
    json_logs = context.settings.log_format is LogFormat.JSON
    observer = RequestObserver(HttpMetrics(registry), access_fields=json_logs)
    wiring.state.update(metrics_registry=registry, request_observer=observer)
