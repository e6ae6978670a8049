"""The webhook settings pages: a user's webhooks, a form to create one, and each webhook's page
(edit, enable/disable, delete, its recent deliveries and a replay button)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from hugbox.auth.pages import form_field, require_user
from hugbox.auth.sessions import PageCaller
from hugbox.deps import SessionDep, SettingsDep
from hugbox.urls import base_url
from hugbox.web.session import CheckedForm
from hugbox.web.templates import render
from hugbox.webhooks import service, targets
from hugbox.webhooks.models import Webhook

router = APIRouter(tags=["pages"])
PAGE = "/settings/webhooks"


def see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def parse_watched(text: str) -> list[service.Watched]:
    """One `type:name` a line (or separated by commas or spaces), as the CLI's `--watch`."""
    items = text.replace(",", " ").split()
    return [service.Watched(*item.split(":", 1)) if ":" in item else service.Watched("", item)
            for item in items]  # fmt: skip


def form_changes(form: Any) -> service.Changes:
    return service.Changes(
        url=form_field(form, "url"),
        watched=parse_watched(form_field(form, "watched")),
        domains=[d for d in service.DOMAINS if form.get(f"domain_{d}")],
        secret=form_field(form, "secret") or None,
    )


def _allow(settings: SettingsDep) -> targets.AllowList:
    return targets.AllowList.parse(settings.webhook_allowed_hosts)


@router.get(PAGE)
def webhooks_page(request: Request, session: SessionDep, caller: PageCaller) -> Response:
    user = require_user(caller)
    hooks = service.list_webhooks(session, owner=user)
    return render(request, "webhooks/list.html", webhooks=hooks, domains=service.DOMAINS)


@router.post(PAGE)
def create_webhook(
    request: Request, session: SessionDep, caller: PageCaller, form: CheckedForm,
    settings: SettingsDep,
) -> Response:  # fmt: skip
    user = require_user(caller)
    webhook = service.create_webhook(
        session, owner=user, changes=form_changes(form), hub_url=base_url(request),
        allow=_allow(settings),
    )  # fmt: skip
    return see_other(f"{PAGE}/{webhook.id}")


def _mine(session: SessionDep, caller: PageCaller, webhook_id: str) -> Webhook:
    return service.get_webhook(session, owner=require_user(caller), webhook_id=webhook_id)


@router.get(PAGE + "/{webhook_id}")
def webhook_page(
    request: Request, session: SessionDep, caller: PageCaller, webhook_id: str
) -> Response:
    webhook = _mine(session, caller, webhook_id)
    deliveries = service.recent_deliveries(session, webhook=webhook)
    watched = "\n".join(f"{w.type}:{w.name}" for w in webhook.watched)
    return render(
        request, "webhooks/webhook.html", webhook=webhook, deliveries=deliveries,
        watched=watched, domains=service.DOMAINS,
    )  # fmt: skip


@router.post(PAGE + "/{webhook_id}")
def update_webhook(
    session: SessionDep, caller: PageCaller, form: CheckedForm, settings: SettingsDep,
    webhook_id: str,
) -> Response:  # fmt: skip
    webhook = _mine(session, caller, webhook_id)
    changes = form_changes(form)
    service.update_webhook(session, webhook=webhook, changes=changes, allow=_allow(settings))
    return see_other(f"{PAGE}/{webhook.id}")


@router.post(PAGE + "/{webhook_id}/enable")
def enable_webhook(
    session: SessionDep, caller: PageCaller, form: CheckedForm, webhook_id: str
) -> Response:
    service.set_disabled(session, webhook=_mine(session, caller, webhook_id), disabled=False)
    return see_other(f"{PAGE}/{webhook_id}")


@router.post(PAGE + "/{webhook_id}/disable")
def disable_webhook(
    session: SessionDep, caller: PageCaller, form: CheckedForm, webhook_id: str
) -> Response:
    service.set_disabled(session, webhook=_mine(session, caller, webhook_id), disabled=True)
    return see_other(f"{PAGE}/{webhook_id}")


@router.post(PAGE + "/{webhook_id}/delete")
def delete_webhook(
    session: SessionDep, caller: PageCaller, form: CheckedForm, webhook_id: str
) -> Response:
    service.delete_webhook(session, webhook=_mine(session, caller, webhook_id))
    return see_other(PAGE)


@router.post(PAGE + "/{webhook_id}/deliveries/{delivery_id}/replay")
def replay_delivery(
    session: SessionDep, caller: PageCaller, form: CheckedForm, webhook_id: str, delivery_id: str
) -> Response:
    webhook = _mine(session, caller, webhook_id)
    service.replay(session, webhook=webhook, delivery_id=delivery_id)
    return see_other(f"{PAGE}/{webhook_id}")
