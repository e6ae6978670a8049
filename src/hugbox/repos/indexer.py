"""What HF derives from a repo's files (card, task, library, tags), and keeping the DB copy of it
in step with the default branch so listings never read git."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pygit2
from sqlalchemy.orm import Session

from hugbox.repos import cards
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.store import RepoStore
from hugbox.storage import git

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    card: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    pipeline_tag: str | None = None
    library_name: str | None = None


def snapshot(gitrepo: pygit2.Repository, repo_type: RepoType, commit: pygit2.Commit) -> Snapshot:
    card = _card(gitrepo, commit)
    tags = cards.tags_from_card(card)
    if repo_type is not RepoType.MODEL:
        return Snapshot(card=card, tags=tags)
    config = cards.parse_config(_read(gitrepo, commit, "config.json"))
    pipeline_tag = _str(card.get("pipeline_tag")) or (
        cards.pipeline_tag_from_config(config) if config else None
    )
    library = _str(card.get("library_name")) or ("transformers" if config else None)
    extra = [t for t in (library, pipeline_tag) if t and t not in tags]
    return Snapshot(card, config, tags + extra, pipeline_tag, library)


def refresh(session: Session, store: RepoStore, repo: Repo) -> None:
    gitrepo = store.open(repo)
    head = git.resolve(gitrepo, "main")
    if head is None:
        return
    snap = snapshot(gitrepo, repo.type, head)
    repo.head_sha = str(head.id)
    repo.last_modified = git.commit_date(head)
    repo.card_data = snap.card
    repo.tags = snap.tags
    repo.pipeline_tag = snap.pipeline_tag
    repo.library_name = snap.library_name
    if repo.type is RepoType.SPACE:
        repo.sdk = _str(snap.card.get("sdk")) or repo.sdk
    session.flush()


def _card(gitrepo: pygit2.Repository, commit: pygit2.Commit) -> dict[str, Any]:
    readme = _read(gitrepo, commit, "README.md")
    if readme is None:
        return {}
    try:
        return cards.parse_front_matter(readme.decode("utf-8", "replace")) or {}
    except cards.CardError:
        log.info("README.md at %s has invalid metadata; indexing it without", commit.id)
        return {}


def _read(gitrepo: pygit2.Repository, commit: pygit2.Commit, path: str) -> bytes | None:
    obj = git.lookup(gitrepo, commit, path)
    return bytes(obj.data) if isinstance(obj, pygit2.Blob) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
