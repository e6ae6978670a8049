"""What likes and collections add to a hub process: their routes and pages, the heart on a
repo's page, and the clean-up of a deleted repo's likes and collection entries."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hugbox.context import Context
from hugbox.events import service as events
from hugbox.events.models import RepoEvent
from hugbox.social import collection_items, collections_api, likes, likes_api, pages
from hugbox.wiring import Wiring


def forget_deleted_repo(session: Session, event: RepoEvent) -> None:
    """A moved repo keeps its likes and places (they hold its row id, not its name); a deleted
    one leaves both."""
    likes.forget_deleted_repo(session, event.repo_pk)
    collection_items.forget_deleted_repo(session, event.repo_pk)


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.extend([likes_api.router, collections_api.router])
    wiring.pages.append(pages.router)
    wiring.hooks.repo_page["social"] = pages.like_section
    wiring.subscribers.append(
        events.Subscriber("social.deleted_repos", {events.REPO_DELETED}, forget_deleted_repo)
    )
