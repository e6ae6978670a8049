"""What HF derives from a repo's files (card, task, library, tags), and keeping the DB copy of it
in step with the default branch so listings never read git."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hugbox.loop import leave_loop
from hugbox.repos import cards, content
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


def snapshot(gitrepo: git.Repository, repo_type: RepoType, commit: git.Commit) -> Snapshot:
    card = read_card(gitrepo, commit)
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


@dataclass(frozen=True)
class CommitDescription:
    """What repo info shows of one commit. Shared between requests: never mutate it."""

    snapshot: Snapshot
    files: tuple[content.RepoFile, ...]
    date: datetime


class _CommitCache:
    """A commit id fixes its content, so what is derived from it is cached without expiry."""

    def __init__(self, size: int = 512):
        self._size = size
        self._items: OrderedDict[tuple[str, RepoType], CommitDescription] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, RepoType]) -> CommitDescription | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, RepoType], value: CommitDescription) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_descriptions = _CommitCache()


def describe(gitrepo: git.Repository, repo_type: RepoType, commit: git.Commit) -> CommitDescription:
    key = (str(commit.id), repo_type)
    found = _descriptions.get(key)
    if found is None:
        leave_loop()  # the whole tree is read: a large repo's may take seconds
        entries = content.list_tree(gitrepo, commit, "", recursive=True)
        files = tuple(e for e in entries if isinstance(e, content.RepoFile))
        found = CommitDescription(
            snapshot(gitrepo, repo_type, commit), files, git.commit_date(commit)
        )
        _descriptions.put(key, found)
    return found


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


def read_card(gitrepo: git.Repository, commit: git.Commit) -> dict[str, Any]:
    """The README's metadata at `commit`; {} when there is none or it is invalid."""
    readme = _read(gitrepo, commit, "README.md")
    if readme is None:
        return {}
    try:
        return cards.parse_front_matter(readme.decode("utf-8", "replace")) or {}
    except cards.CardError:
        log.info("README.md at %s has invalid metadata; indexing it without", commit.id)
        return {}


def _read(gitrepo: git.Repository, commit: git.Commit, path: str) -> bytes | None:
    obj = git.lookup(gitrepo, commit, path)
    return bytes(obj.data) if isinstance(obj, git.Blob) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
