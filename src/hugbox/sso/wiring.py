"""What single sign-on adds to a hub process: its pages and API, "require SSO" on repos' access
checks and whoami, and the SSO buttons on the login page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Request
from sqlalchemy import select

from hugbox.auth.models import Account
from hugbox.context import Context
from hugbox.db import Database
from hugbox.ratelimit import RateLimit
from hugbox.sso import api, pages
from hugbox.sso.access import RequireSso
from hugbox.sso.models import SsoConfig
from hugbox.wiring import Wiring

# SSO sign-ins one client address may start in 5 minutes: a person needs a few, even with
# several orgs and tabs; each start costs a stored row and a request to the provider.
SSO_STARTS = 30


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(api.router)
    wiring.pages.append(pages.router)
    require = RequireSso(max_age=timedelta(seconds=context.settings.sso_max_age))
    wiring.hooks.access_check.append(require.check_repo)
    wiring.hooks.unreachable.append(require.restrictions)  # listings leave their repos out
    wiring.state["org_restrictions"] = require.restrictions  # whoami (auth.api)
    wiring.state["require_sso"] = require  # told when an org's settings change
    wiring.page_context.append(login_choices)
    starts = wiring.state["limit_storage"]  # auth's (installed first): Redis when configured
    wiring.state["sso_starts"] = RateLimit(starts, "sso-starts", attempts=SSO_STARTS, window=300)


_SSO_ORGS = (
    select(Account.name)
    .join(SsoConfig, SsoConfig.org_id == Account.id)
    .order_by(Account.name_lower)
)


def login_choices(request: Request, context: dict[str, Any]) -> None:
    """ "Sign in with <org> SSO" for each org with a provider, on the login page only."""
    if request.url.path != "/login":
        return
    database: Database = request.app.state.database
    with database.session() as session:
        context["sso_orgs"] = list(session.scalars(_SSO_ORGS))
