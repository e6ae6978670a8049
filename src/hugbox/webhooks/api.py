"""`/api/settings/webhooks`: huggingface_hub's `create_webhook`, `list_webhooks`,
`get_webhook`, `update_webhook`, `enable_webhook`, `disable_webhook` and `delete_webhook`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from hugbox.auth.models import Account
from hugbox.auth.scopes import Permission, Target
from hugbox.auth.service import require
from hugbox.deps import CallerDep, SessionDep, SettingsDep
from hugbox.errors import AuthenticationRequired
from hugbox.repos.schemas import iso
from hugbox.urls import base_url
from hugbox.webhooks import schemas, service
from hugbox.webhooks import targets as webhook_targets
from hugbox.webhooks.models import Webhook
from hugbox.wire import Empty, returns

router = APIRouter()
API = "/api/settings/webhooks"


async def _reader(caller: CallerDep) -> Account:
    if caller.user is None:
        raise AuthenticationRequired("Log in (pass a token) to manage webhooks")
    require(caller, Permission.WEBHOOKS_READ, Target(caller.user.name), "read webhooks")
    return caller.user


async def _writer(caller: CallerDep) -> Account:
    user = await _reader(caller)
    require(caller, Permission.WEBHOOKS_WRITE, Target(user.name), "change webhooks")
    return user


Reader = Annotated[Account, Depends(_reader)]
Writer = Annotated[Account, Depends(_writer)]


class WatchedItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str = Field(max_length=16)
    name: str = Field(max_length=200)


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    watched: list[WatchedItem] = Field(default_factory=list, max_length=100)
    url: str | None = Field(default=None, max_length=2000)
    domains: list[str] | None = Field(default=None, max_length=10)
    secret: str | None = Field(default=None, max_length=500)
    job_source_id: str | None = Field(default=None, alias="jobSourceId", max_length=100)

    def changes(self) -> service.Changes:
        watched = [service.Watched(item.type, item.name) for item in self.watched]
        return service.Changes(self.url, watched, self.domains, self.secret)


def info(webhook: Webhook) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": webhook.id,
        "url": webhook.url,
        "watched": [{"type": w.type, "name": w.name} for w in webhook.watched],
        "domains": list(webhook.domains),
        "disabled": webhook.disabled,
        "hasSecret": webhook.secret is not None,
        "createdAt": iso(webhook.created_at),
    }
    if webhook.last_trigger_at is not None:
        answer["lastTriggerAt"] = iso(webhook.last_trigger_at)
    return answer


async def allow_list(settings: SettingsDep) -> webhook_targets.AllowList:
    return webhook_targets.AllowList.parse(settings.webhook_allowed_hosts)


AllowDep = Annotated[webhook_targets.AllowList, Depends(allow_list)]


@router.get(API, **returns(list[schemas.WebhookInfo]))
def list_webhooks(user: Reader, session: SessionDep) -> Any:
    return [info(webhook) for webhook in service.list_webhooks(session, owner=user)]


@router.post(API, **returns(schemas.WebhookAnswer))
def create_webhook(
    body: WebhookBody, user: Writer, session: SessionDep, allow: AllowDep, request: Request
) -> Any:
    webhook = service.create_webhook(
        session, owner=user, changes=body.changes(), hub_url=base_url(request), allow=allow
    )
    return {"webhook": info(webhook)}


@router.get(API + "/{webhook_id}", **returns(schemas.WebhookAnswer))
def get_webhook(webhook_id: str, user: Reader, session: SessionDep) -> Any:
    return {"webhook": info(service.get_webhook(session, owner=user, webhook_id=webhook_id))}


@router.post(API + "/{webhook_id}", **returns(schemas.WebhookAnswer))
def update_webhook(
    webhook_id: str, body: WebhookBody, user: Writer, session: SessionDep, allow: AllowDep
) -> Any:
    webhook = service.get_webhook(session, owner=user, webhook_id=webhook_id)
    service.update_webhook(session, webhook=webhook, changes=body.changes(), allow=allow)
    return {"webhook": info(webhook)}


@router.post(API + "/{webhook_id}/enable", **returns(schemas.WebhookAnswer))
def enable_webhook(webhook_id: str, user: Writer, session: SessionDep) -> Any:
    webhook = service.get_webhook(session, owner=user, webhook_id=webhook_id)
    return {"webhook": info(service.set_disabled(session, webhook=webhook, disabled=False))}


@router.post(API + "/{webhook_id}/disable", **returns(schemas.WebhookAnswer))
def disable_webhook(webhook_id: str, user: Writer, session: SessionDep) -> Any:
    webhook = service.get_webhook(session, owner=user, webhook_id=webhook_id)
    return {"webhook": info(service.set_disabled(session, webhook=webhook, disabled=True))}


@router.delete(API + "/{webhook_id}", **returns(Empty))
def delete_webhook(webhook_id: str, user: Writer, session: SessionDep) -> Any:
    webhook = service.get_webhook(session, owner=user, webhook_id=webhook_id)
    service.delete_webhook(session, webhook=webhook)
    return {}


@router.post(API + "/{webhook_id}/replay/{delivery_id}", **returns(schemas.ReplayAnswer))
def replay_delivery(webhook_id: str, delivery_id: str, user: Writer, session: SessionDep) -> Any:
    webhook = service.get_webhook(session, owner=user, webhook_id=webhook_id)
    again = service.replay(session, webhook=webhook, delivery_id=delivery_id)
    return {"status": "queued", "deliveryId": again.id}
