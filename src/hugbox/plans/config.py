"""The operator's plans file (TOML): read once when a process starts (`HUGBOX_PLANS_FILE`, else
the shipped `default_plans.toml`, which mirrors HF's tiers)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from hugbox.plans.models import Plan

DEFAULT_FILE = Path(__file__).with_name("default_plans.toml")
_TIERS = {"free", "pro", "team", "enterprise", "plus", "academia"}
_OPTIONAL = {"private_storage", "public_storage", "inference_requests", "inference_seconds",
             "running_spaces"}  # fmt: skip
_KNOWN = {f.name for f in fields(Plan)} - {"name", "rank"}


class PlansFileError(ValueError):
    """The plans file says something hugbox cannot use (the process refuses to start)."""


@dataclass(frozen=True)
class Catalog:
    """Every plan by name, and which one each kind of caller has when none is assigned."""

    plans: dict[str, Plan]
    window: int
    anonymous: Plan
    default_user: Plan
    default_org: Plan

    def get(self, name: str | None, fallback: Plan) -> Plan:
        """The plan named `name`; an assignment to a plan since removed from the file falls
        back rather than failing each request."""
        return self.plans.get(name or "", fallback)


def load_catalog(path: Path | None) -> Catalog:
    source = path or DEFAULT_FILE
    try:
        data = tomllib.loads(source.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise PlansFileError(f"{source}: {error}") from error
    plans = {name: _plan(name, rank, body) for rank, (name, body) in
             enumerate(dict(data.get("plans", {})).items())}  # fmt: skip
    window = data.get("window", 300)
    if not isinstance(window, int) or window < 1:
        raise PlansFileError(f"{source}: window must be a whole number of seconds (>= 1)")

    def named(key: str, default: str) -> Plan:
        name = data.get(key, default)
        if name not in plans:
            raise PlansFileError(f"{source}: {key} names {name!r}, which is not a plan")
        return plans[name]

    return Catalog(plans, window, named("anonymous", "anonymous"), named("default_user", "free"),
                   named("default_org", "free"))  # fmt: skip


def _plan(name: str, rank: int, body: Any) -> Plan:
    if not isinstance(body, dict):
        raise PlansFileError(f"plan {name!r} must be a table")
    unknown = set(body) - _KNOWN
    if unknown:
        raise PlansFileError(f"plan {name!r}: unknown keys {sorted(unknown)}")
    values = {key: _amount(name, key, body.get(key, "unlimited")) for key in _OPTIONAL}
    for bucket in ("api", "resolvers", "pages"):
        if not isinstance(body.get(bucket), int) or body[bucket] < 0:
            raise PlansFileError(f"plan {name!r}: {bucket} must be a whole number >= 0")
    tier = body.get("tier", "free")
    if tier not in _TIERS:
        raise PlansFileError(f"plan {name!r}: tier must be one of {sorted(_TIERS)}")
    buckets = {bucket: body[bucket] for bucket in ("api", "resolvers", "pages")}
    return Plan(name=name, tier=tier, rank=rank, **buckets, **values)


def _amount(plan: str, key: str, value: object) -> Any:
    if value == "unlimited":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise PlansFileError(f'plan {plan!r}: {key} must be a number >= 0 or "unlimited"')
    return value if key == "inference_seconds" else int(value)
