"""HF's webhook payloads (version 3, spec community-plans.md §3.4) made from repo events.

One event may make more than one payload: a discussion's creation is both a `discussion` create
and a `discussion.comment` create (its opening post). hugbox's row ids become HF's 24-hex ids by
zero-padding, so the same repo, account or discussion always has the same id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.auth.models import Account
from hugbox.events import service as events
from hugbox.events.models import RepoEvent
from hugbox.repos.models import Repo, RepoType

VERSION = 3
GONE_ID = "0" * 24  # an account that no longer exists (a deleted author)


@dataclass(frozen=True)
class Outgoing:
    scope: str
    action: str
    body: dict[str, Any]  # the payload without its `webhook` part

    @property
    def domain(self) -> str:
        return self.scope.split(".")[0]


def hex_id(number: int) -> str:
    return f"{number:024x}"


def account_id(session: Session, name: str | None) -> str:
    if not name:
        return GONE_ID
    found = session.scalar(select(Account.id).where(Account.name_lower == name.lower()))
    return GONE_ID if found is None else hex_id(found)


@dataclass(frozen=True)
class Source:
    """What every payload of one event reads: the event, its repo (None once deleted), the hub."""

    session: Session
    event: RepoEvent
    repo: Repo | None
    base: str

    def repo_web(self, repo_id: str | None = None) -> str:
        prefix = RepoType(self.event.repo_type).url_prefix
        return f"{self.base}/{prefix}{repo_id or self.event.repo_id}"

    def repo_api(self) -> str:
        return f"{self.base}/api/{self.event.repo_type}s/{self.event.repo_id}"


def build(session: Session, event: RepoEvent, base: str) -> list[Outgoing]:
    """The payloads `event` makes, its links under `base` (the hub's public URL)."""
    source = Source(session, event, session.get(Repo, event.repo_pk), base.rstrip("/"))
    maker = MAKERS.get(event.kind)
    return [] if maker is None else maker(source)


def repo_part(source: Source, scope: str) -> dict[str, Any]:
    event, repo = source.event, source.repo
    owner = hex_id(repo.owner_id) if repo else account_id(source.session, _namespace(event))
    part: dict[str, Any] = {
        "type": event.repo_type,
        "name": _name_before(event),
        "id": hex_id(event.repo_pk),
        "private": True if repo is None else repo.private,  # a gone repo is shown to no one new
        "url": {"web": source.repo_web(), "api": source.repo_api()},
        "owner": {"id": owner},
    }
    if repo is not None:
        part["tags"] = list(repo.tags or [])
    if scope.startswith("repo"):
        part["headSha"] = _head_sha(event, repo)
    return part


def _name_before(event: RepoEvent) -> str:
    """A moved repo is named as it was; `movedTo` says where it went."""
    if event.kind == events.REPO_MOVED:
        return str(event.data.get("old_id") or event.repo_id)
    return event.repo_id


def _namespace(event: RepoEvent) -> str:
    return event.repo_id.split("/")[0]


def _head_sha(event: RepoEvent, repo: Repo | None) -> str | None:
    """Main's head as the event left it (later commits may have moved it since)."""
    if events.main_moved(event):
        return str(event.data["new"])
    if event.kind == events.REPO_CREATED:
        return str(event.data.get("head"))
    return repo.head_sha if repo is not None else None


def payload(source: Source, scope: str, action: str, **extra: Any) -> Outgoing:
    body = {"event": {"action": action, "scope": scope}, "repo": repo_part(source, scope)}
    return Outgoing(scope, action, {**body, **extra})


def on_ref_moved(source: Source) -> list[Outgoing]:
    data = source.event.data
    ref = {"ref": data.get("ref"), "oldSha": data.get("old"), "newSha": data.get("new")}
    return [payload(source, "repo.content", "update", updatedRefs=[ref])]


def on_repo_created(source: Source) -> list[Outgoing]:
    return [payload(source, "repo", "create")]


def on_repo_deleted(source: Source) -> list[Outgoing]:
    return [payload(source, "repo", "delete")]


def on_repo_moved(source: Source) -> list[Outgoing]:
    new_id = str(source.event.data.get("new_id"))
    owner = hex_id(source.repo.owner_id) if source.repo else account_id(source.session, None)
    moved = {"name": new_id, "owner": {"id": owner}}
    return [payload(source, "repo", "move", movedTo=moved)]


def on_repo_updated(source: Source) -> list[Outgoing]:
    """Only `private` is named in `updatedConfig` (as on HF); other settings send `{}`."""
    private = source.event.data.get("private")
    config = {"private": bool(private[1])} if isinstance(private, list) else {}
    return [payload(source, "repo.config", "update", updatedConfig=config)]


def discussion_part(source: Source) -> dict[str, Any]:
    data, event = source.event.data, source.event
    num = int(data.get("num") or 0)
    part: dict[str, Any] = {
        "id": f"{event.repo_pk:012x}{num:012x}",
        "num": num,
        "title": str(data.get("title") or ""),
        "status": str(data.get("status") or "open"),
        "isPullRequest": bool(data.get("is_pull_request")),
        "author": {"id": account_id(source.session, data.get("author"))},
        "url": {
            "web": f"{source.repo_web()}/discussions/{num}",
            "api": f"{source.repo_api()}/discussions/{num}",
        },
        "pinned": False,
    }
    if part["isPullRequest"]:
        changes = {"base": events.MAIN_REF}
        if data.get("merge_commit"):
            changes["mergeCommitId"] = str(data["merge_commit"])
        part["changes"] = changes
    return part


def comment_part(source: Source, discussion: dict[str, Any]) -> dict[str, Any]:
    """The comment of the event; its text is left out once hidden (as HF does)."""
    comment = source.event.data.get("comment") or {}
    comment_id = str(comment.get("id") or "")
    hidden = bool(comment.get("hidden"))
    part: dict[str, Any] = {
        "id": comment_id,
        "author": {"id": account_id(source.session, comment.get("author"))},
        "hidden": hidden,
        "url": {"web": f"{discussion['url']['web']}#{comment_id}"},
    }
    if not hidden:
        part["content"] = str(comment.get("content") or "")
    return part


def on_discussion_created(source: Source) -> list[Outgoing]:
    discussion = discussion_part(source)
    comment = comment_part(source, discussion)
    return [
        payload(source, "discussion", "create", discussion=discussion, comment=comment),
        payload(source, "discussion.comment", "create", discussion=discussion, comment=comment),
    ]


def on_discussion_updated(source: Source) -> list[Outgoing]:
    return [payload(source, "discussion", "update", discussion=discussion_part(source))]


def on_discussion_commented(source: Source) -> list[Outgoing]:
    """A new comment is a create; an edit or a hiding, an update."""
    discussion = discussion_part(source)
    comment = source.event.data.get("comment") or {}
    action = "update" if comment.get("edited") or comment.get("hidden") else "create"
    part = comment_part(source, discussion)
    return [payload(source, "discussion.comment", action, discussion=discussion, comment=part)]


MAKERS = {
    events.REF_MOVED: on_ref_moved,
    events.REPO_CREATED: on_repo_created,
    events.REPO_DELETED: on_repo_deleted,
    events.REPO_MOVED: on_repo_moved,
    events.REPO_UPDATED: on_repo_updated,
    events.DISCUSSION_CREATED: on_discussion_created,
    events.DISCUSSION_UPDATED: on_discussion_updated,
    events.DISCUSSION_COMMENTED: on_discussion_commented,
}
