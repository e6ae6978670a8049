"""What plans add to a hub process: the plans file read once, the rate limiter (its middleware is
added by `create_app`), and the admin and usage pages."""

from __future__ import annotations

from hugbox.context import Context
from hugbox.plans import pages, service
from hugbox.plans.config import load_catalog
from hugbox.plans.counters import open_counters
from hugbox.plans.limiter import Callers, Limiter
from hugbox.wiring import Wiring


def install(wiring: Wiring, context: Context) -> None:
    settings = context.settings
    catalog = load_catalog(settings.plans_file)
    service.use_catalog(catalog)
    callers = Callers(context.database, ttl=settings.plan_cache_ttl)
    counters = open_counters(settings.redis_url)
    limiter = Limiter(catalog, counters, callers, enforce=settings.rate_limits)
    wiring.state["plan_limiter"] = limiter
    wiring.state["account_tiers"] = service.tiers_of  # whoami's plan fields (hugbox.auth.api)
    wiring.pages.append(pages.router)
