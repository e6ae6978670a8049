"""What a plan is (read from the operator's plans file) and which account has which plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hugbox.db import Base, UTCDateTime, utcnow

BUCKETS = ("api", "resolvers", "pages")  # HF's rate-limit buckets (spec community-plans §4.1)


@dataclass(frozen=True, slots=True)
class Plan:
    """A plan's levers. Limits count requests per `window` seconds (HF: 300, fixed windows);
    storage quotas are bytes, None for unlimited. `tier` is what whoami shows: `pro` makes a
    user `isPro`, and `team`, `enterprise`, `plus` or `academia` is an org's `plan`."""

    name: str
    api: int
    resolvers: int
    pages: int
    private_storage: int | None
    public_storage: int | None
    inference_requests: int | None  # per day, None for unlimited
    inference_seconds: float | None  # compute seconds per day, None for unlimited
    running_spaces: int | None
    tier: str = "free"
    rank: int = 0  # a user in several orgs gets the highest-ranked of their plans

    def quota(self, bucket: str) -> int:
        value: int = getattr(self, bucket)
        return value

    @property
    def is_pro(self) -> bool:
        return self.tier == "pro"


class PlanAssignment(Base):
    """An account's plan, by name; accounts without a row have the catalog's default."""

    __tablename__ = "plan_assignments"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    plan: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
