"""What /health and /ready answer."""

from __future__ import annotations

from typing import Literal

from hugbox.wire import WireModel


class HealthStatus(WireModel):
    """TGI's `/health`, which load balancers and `InferenceClient` poll."""

    status: Literal["ok"]


class ReadyStatus(WireModel):
    """Each dependency a replica needs to serve, and "ok" (a failure is a 503 naming it)."""

    status: Literal["ready"]
    checks: dict[str, str]
