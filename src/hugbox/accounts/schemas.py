"""The audit log on the wire: one entry as `audit.as_json` writes it (also each exported line)."""

from __future__ import annotations

from typing import Any

from hugbox.wire import WireModel


class AuditRepo(WireModel):
    type: str | None
    id: str


class AuditEntry(WireModel):
    id: int
    createdAt: str
    action: str
    actor: str | None
    ip: str | None
    namespace: str | None
    repo: AuditRepo | None
    data: dict[str, Any]
