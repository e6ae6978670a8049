"""A user's webhooks (huggingface_hub's `create_webhook`, `update_webhook`, ...) and the repo
events that become their deliveries."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hugbox.auth.models import Account
from hugbox.auth.service import Caller
from hugbox.db import utcnow
from hugbox.errors import BadRequest, NotFound
from hugbox.events.models import RepoEvent
from hugbox.jobs import service as jobs
from hugbox.repos import access
from hugbox.repos.models import Repo
from hugbox.webhooks import payloads, targets
from hugbox.webhooks.models import Webhook, WebhookDelivery, WebhookWatch

DELIVER_JOB = "webhooks.deliver"
DOMAINS = ("repo", "discussion")
WATCH_TYPES = ("model", "dataset", "space", "bucket", "kernel", "user", "org")
NAMESPACE_TYPES = ("user", "org")
MAX_WEBHOOKS = 100  # per user: each one is work for the job worker on every watched event
RECENT = 50
PRUNE_JOB = "webhooks.prune"
KEEP_DELIVERIES = timedelta(days=30)
_ID = re.compile(r"[0-9a-f]{24}")


@dataclass(frozen=True)
class Watched:
    type: str
    name: str


@dataclass(frozen=True)
class Changes:
    """What an update sets; None (and an empty `watched`, which the client sends when it was
    not given) leaves a field as it is."""

    url: str | None = None
    watched: Sequence[Watched] = ()
    domains: Sequence[str] | None = None
    secret: str | None = None


def create_webhook(
    session: Session, *, owner: Account, changes: Changes, hub_url: str, allow: targets.AllowList
) -> Webhook:
    if changes.url is None:
        raise BadRequest("A webhook needs a `url` (hugbox does not run Jobs from webhooks)")
    if not changes.watched:
        raise BadRequest("A webhook must watch at least one user, org or repo")
    count = session.scalar(select(func.count()).where(Webhook.owner_id == owner.id)) or 0
    if count >= MAX_WEBHOOKS:
        raise BadRequest(f"A user may have at most {MAX_WEBHOOKS} webhooks")
    webhook = Webhook(owner_id=owner.id, url="", domains=list(DOMAINS), hub_url=hub_url)
    _apply(webhook, changes, allow)
    session.add(webhook)
    session.flush()
    return webhook


def update_webhook(
    session: Session, *, webhook: Webhook, changes: Changes, allow: targets.AllowList
) -> Webhook:
    _apply(webhook, changes, allow)
    session.flush()
    return webhook


def _apply(webhook: Webhook, changes: Changes, allow: targets.AllowList) -> None:
    if changes.url is not None:
        webhook.url = str(targets.check_url(changes.url, allow))
    if changes.watched:
        webhook.watched = [_watch(item) for item in _unique(changes.watched)]
    if changes.domains is not None:
        webhook.domains = _domains(changes.domains)
    if changes.secret is not None:
        webhook.secret = _secret(changes.secret)


def _watch(item: Watched) -> WebhookWatch:
    if item.type not in WATCH_TYPES:
        raise BadRequest(f"Unknown watched type {item.type!r}: use one of {', '.join(WATCH_TYPES)}")
    name = item.name.strip()
    if not name or len(name) > 200:
        raise BadRequest("A watched item needs a name (at most 200 characters)")
    return WebhookWatch(type=item.type, name=name, name_lower=name.lower())


def _unique(items: Sequence[Watched]) -> list[Watched]:
    return list(dict.fromkeys(items))


def _domains(domains: Sequence[str]) -> list[str]:
    unknown = [d for d in domains if d not in DOMAINS]
    if unknown or not domains:
        raise BadRequest(f"`domains` must name one or more of {', '.join(DOMAINS)}")
    return [d for d in DOMAINS if d in domains]


def _secret(secret: str) -> str | None:
    """Sent verbatim as a header, so ASCII without control characters; '' removes it."""
    if not secret.isascii() or not secret.isprintable() or len(secret) > 500:
        raise BadRequest("A webhook secret must be printable ASCII, at most 500 characters")
    return secret or None


def list_webhooks(session: Session, *, owner: Account) -> list[Webhook]:
    stmt = select(Webhook).where(Webhook.owner_id == owner.id).order_by(Webhook.created_at)
    return list(session.scalars(stmt))


def get_webhook(session: Session, *, owner: Account, webhook_id: str) -> Webhook:
    """The owner's webhook; another user's is as unknown as one that never existed."""
    webhook = session.get(Webhook, webhook_id) if _ID.fullmatch(webhook_id) else None
    if webhook is None or webhook.owner_id != owner.id:
        raise NotFound(f"Webhook {webhook_id} not found")
    return webhook


def set_disabled(session: Session, *, webhook: Webhook, disabled: bool) -> Webhook:
    webhook.disabled = disabled
    session.flush()
    return webhook


def delete_webhook(session: Session, *, webhook: Webhook) -> None:
    session.delete(webhook)
    session.flush()


def recent_deliveries(session: Session, *, webhook: Webhook) -> list[WebhookDelivery]:
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(RECENT)
    )
    return list(session.scalars(stmt))


def replay(session: Session, *, webhook: Webhook, delivery_id: str) -> WebhookDelivery:
    """Send a past delivery's payload again, as a new delivery with its own attempts."""
    past = session.get(WebhookDelivery, delivery_id) if _ID.fullmatch(delivery_id) else None
    if past is None or past.webhook_id != webhook.id:
        raise NotFound(f"Delivery {delivery_id} not found")
    again = WebhookDelivery(
        webhook_id=webhook.id, scope=past.scope, action=past.action, payload=past.payload,
        replay_of=past.id,
    )  # fmt: skip
    session.add(again)
    session.flush()
    enqueue_delivery(session, again)
    return again


def prune_deliveries(session: Session, *, older_than: timedelta = KEEP_DELIVERIES) -> int:
    """Forget settled deliveries past `older_than` (their attempts go with them)."""
    cutoff = utcnow() - older_than
    result = session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.created_at < cutoff, WebhookDelivery.status != "pending"
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def enqueue_delivery(session: Session, delivery: WebhookDelivery, delay: float = 0.0) -> None:
    job = jobs.enqueue(session, kind=DELIVER_JOB, key=delivery.id, payload={"id": delivery.id})
    if delay > 0:
        job.run_after = utcnow() + timedelta(seconds=delay)


def on_event(session: Session, event: RepoEvent, *, public_url: str | None) -> None:
    """The subscriber: one delivery per payload of `event` for each enabled webhook that
    watches its repo or namespace, in one of the payload's domains, whose owner may read the
    repo. Idempotent: an event handed over twice finds its deliveries made."""
    for webhook in _watching(session, event):
        if event.created_at < webhook.created_at or not _owner_can_read(session, webhook, event):
            continue  # a webhook hears of what happens after it was made, as on HF
        for outgoing in payloads.build(session, event, public_url or webhook.hub_url):
            if outgoing.domain in webhook.domains:
                _add_delivery(session, webhook, event, outgoing)


def _watched_names(event: RepoEvent) -> dict[str, set[str]]:
    """{lower-cased name: the watch types it matches}; a moved repo by its old and new ids."""
    ids = {event.repo_id, str(event.data.get("old_id") or event.repo_id)}
    names: dict[str, set[str]] = {}
    for repo_id in ids:
        names.setdefault(repo_id.lower(), set()).add(event.repo_type)
        names.setdefault(repo_id.split("/")[0].lower(), set()).update(NAMESPACE_TYPES)
    return names


def _watching(session: Session, event: RepoEvent) -> list[Webhook]:
    names = _watched_names(event)
    rows = session.execute(
        select(Webhook, WebhookWatch.type, WebhookWatch.name_lower)
        .join(WebhookWatch, WebhookWatch.webhook_id == Webhook.id)
        .where(WebhookWatch.name_lower.in_(names), Webhook.disabled.is_(False))
        .order_by(Webhook.id)
    )
    found = {hook.id: hook for hook, kind, name in rows if kind in names[name]}
    return list(found.values())


def _owner_can_read(session: Session, webhook: Webhook, event: RepoEvent) -> bool:
    """Never a private repo's events to someone who cannot read it. A deleted repo is judged
    as if private: only its namespace's own people (and admins) hear of its deletion."""
    owner = session.get(Account, webhook.owner_id)
    if owner is None:
        return False
    caller = Caller(user=owner)
    repo = session.get(Repo, event.repo_pk)
    if repo is not None:
        return access.can_read(caller, repo)
    namespace = event.repo_id.split("/")[0].lower()
    account = session.scalar(select(Account).where(Account.name_lower == namespace))
    if account is None:
        return owner.is_admin
    return owner.is_admin or owner.id == account.id or caller.org_role(account.id) is not None


def _add_delivery(
    session: Session, webhook: Webhook, event: RepoEvent, outgoing: payloads.Outgoing
) -> None:
    made = session.scalar(
        select(WebhookDelivery.id).where(
            WebhookDelivery.webhook_id == webhook.id,
            WebhookDelivery.event_id == event.id,
            WebhookDelivery.scope == outgoing.scope,
        )
    )
    if made is not None:
        return
    body = {**outgoing.body, "webhook": {"id": webhook.id, "version": payloads.VERSION}}
    delivery = WebhookDelivery(
        webhook_id=webhook.id, event_id=event.id, scope=outgoing.scope, action=outgoing.action,
        payload=body,
    )  # fmt: skip
    session.add(delivery)
    session.flush()
    webhook.last_trigger_at = utcnow()
    enqueue_delivery(session, delivery)
