"""Plan pages: the admin's (every plan, who has which, assigning one) and each user's usage
(their plan, this window's requests per bucket, today's inference against the allowance)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hugbox.auth.models import Account
from hugbox.auth.pages import form_field, require_user, see_other
from hugbox.auth.sessions import PageCaller
from hugbox.deps import SessionDep
from hugbox.errors import Forbidden
from hugbox.plans import allowance, service
from hugbox.plans.limiter import Limiter
from hugbox.plans.models import BUCKETS
from hugbox.plans.service import Limited
from hugbox.web.session import CheckedForm
from hugbox.web.templates import render

router = APIRouter(tags=["pages"])


def _admin(caller: PageCaller) -> Account:
    user = require_user(caller)
    if not user.is_admin:
        raise Forbidden("Only site administrators manage plans")
    return user


def _limiter(request: Request) -> Limiter:
    limiter: Limiter = request.app.state.plan_limiter
    return limiter


@router.get("/admin/plans")
def plans_page(request: Request, session: SessionDep, caller: PageCaller) -> Response:
    _admin(caller)
    limiter = _limiter(request)
    return render(
        request, "plans/admin.html", catalog=limiter.catalog, enforced=limiter.enforce,
        accounts=service.list_account_plans(session), assigned=request.query_params.get("assigned"),
    )  # fmt: skip


@router.post("/admin/plans")
def assign_plan(
    request: Request, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    _admin(caller)
    account, plan = form_field(form, "account"), form_field(form, "plan")
    service.assign_plan(session, account=account, plan=plan)
    _limiter(request).callers.forget()  # this process applies it at once; others within the TTL
    return see_other(f"/admin/plans?assigned={quote(account)}")


@router.get("/settings/usage")
def usage_page(request: Request, session: SessionDep, caller: PageCaller) -> Response:
    user = require_user(caller)
    limiter = _limiter(request)
    who = Limited(key=f"u{user.id}", plan=service.user_plan(session, user.id), user=user.name)
    used = {bucket: limiter.used(bucket, who.key) for bucket in BUCKETS}
    return render(
        request, "plans/usage.html", plan=who.plan, own=service.plan_for(session, user),
        used=used, window=limiter.catalog.window, enforced=limiter.enforce,
        inference=allowance.usage(limiter, who),
    )  # fmt: skip
