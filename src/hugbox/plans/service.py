"""Plans of accounts: which plan an account has, assigning one, and the plan a caller's requests
are limited by (the best of the user's own and their orgs': org limits apply per member)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.auth.models import Account, AccountKind, Membership, Token
from hugbox.auth.service import get_account, hash_token
from hugbox.errors import NotFound
from hugbox.plans.config import Catalog, load_catalog
from hugbox.plans.models import Plan, PlanAssignment

_catalog: Catalog | None = None


def use_catalog(catalog: Catalog) -> None:
    """The plans this process knows (set once at start from `HUGBOX_PLANS_FILE`)."""
    global _catalog
    _catalog = catalog


def catalog() -> Catalog:
    global _catalog
    if _catalog is None:  # a process that never read settings: the shipped plans
        _catalog = load_catalog(None)
    return _catalog


def _default(kind: AccountKind, plans: Catalog) -> Plan:
    return plans.default_org if kind == AccountKind.ORG else plans.default_user


def plan_for(session: Session, account: Account) -> Plan:
    """`account`'s own plan (a user's or an org's): the assigned one, else the default."""
    plans = catalog()
    assigned = session.get(PlanAssignment, account.id)
    return plans.get(assigned.plan if assigned else None, _default(account.kind, plans))


def tiers_of(session: Session, accounts: Sequence[Account]) -> dict[int, str]:
    """Each account's plan tier, for whoami's `isPro` and orgs' `plan`."""
    return {account.id: plan_for(session, account).tier for account in accounts}


def assign_plan(session: Session, *, account: str, plan: str) -> Plan:
    plans = catalog()
    if plan not in plans.plans:
        raise NotFound(f"No plan named {plan!r}; the plans are {', '.join(plans.plans)}")
    target = get_account(session, account)
    row = session.get(PlanAssignment, target.id)
    if row is None:
        session.add(PlanAssignment(account_id=target.id, plan=plan))
    else:
        row.plan = plan
    session.flush()
    return plans.plans[plan]


@dataclass(frozen=True)
class AccountPlan:
    name: str
    kind: AccountKind
    plan: Plan
    assigned: bool


def list_account_plans(session: Session, *, limit: int = 500) -> list[AccountPlan]:
    """Accounts with an assigned plan first, then the others, by name."""
    plans = catalog()
    rows = session.execute(
        select(Account.name, Account.kind, PlanAssignment.plan)
        .outerjoin(PlanAssignment, PlanAssignment.account_id == Account.id)
        .order_by(PlanAssignment.plan.is_(None), Account.name_lower)
        .limit(limit)
    ).all()
    return [
        AccountPlan(name, kind, plans.get(plan, _default(kind, plans)), plan is not None)
        for name, kind, plan in rows
    ]


def user_plan(session: Session, user_id: int) -> Plan:
    """The plan that limits `user_id`'s requests: the highest-ranked of their own plan and
    those of their orgs (HF: a Team org's members each get Team limits)."""
    plans = catalog()
    orgs = select(Membership.org_id).where(Membership.user_id == user_id)
    rows = session.execute(
        select(Account.kind, PlanAssignment.plan)
        .outerjoin(PlanAssignment, PlanAssignment.account_id == Account.id)
        .where((Account.id == user_id) | Account.id.in_(orgs))
    ).all()
    candidates = [plans.get(plan, _default(kind, plans)) for kind, plan in rows]
    return max(candidates, key=lambda p: p.rank, default=plans.default_user)


@dataclass(frozen=True, slots=True)
class Limited:
    """Whose count a request adds to, and the plan it is limited by."""

    key: str
    plan: Plan
    user: str | None = None


def limited_by_token(session: Session, token: str) -> Limited | None:
    """The user a token stands for, with their plan; None for a token that does not exist."""
    row = session.execute(
        select(Account.id, Account.name)
        .join(Token, Token.user_id == Account.id)
        .where(Token.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    return Limited(key=f"u{row.id}", plan=user_plan(session, row.id), user=row.name)
