"""OpenTelemetry traces, optional: on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set and the `otel`
extra is installed (`pip install 'hugbox[otel]'`).

Spans are named by route template (the FastAPI instrumentation's own naming). The SQLAlchemy
instrumentation is left out: it refuses SQLAlchemy 2.1 (spec/scale-out.md §7). The variables are
OpenTelemetry's own (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`, ...), read by its SDK.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from fastapi import FastAPI

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor

log = logging.getLogger(__name__)

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"


def instrument(app: FastAPI) -> None:
    """Trace every request to the OTLP endpoint, when one is configured and the SDK is here."""
    endpoint = os.environ.get(ENDPOINT_VARIABLE)
    if not endpoint:
        return
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as missing:
        log.warning("%s is set, but OpenTelemetry is not installed (pip install 'hugbox[otel]'): "
                    "no traces are sent (%s)", ENDPOINT_VARIABLE, missing)  # fmt: skip
        return
    if trace_requests(app, BatchSpanProcessor(OTLPSpanExporter())):
        log.info("OpenTelemetry: request traces go to %s", endpoint)


def trace_requests(app: FastAPI, processor: SpanProcessor) -> bool:
    """Instrument `app` so that each request's span goes to `processor`; False without the
    instrumentation package."""
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError as missing:
        log.warning("OpenTelemetry's FastAPI instrumentation is not installed: %s", missing)
        return False
    name = os.environ.get("OTEL_SERVICE_NAME", "hugbox")
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(processor)
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, exclude_spans=["receive", "send"]
    )
    return True
