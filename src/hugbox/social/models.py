"""Tables of likes and collections, and the value types their services return."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hugbox.auth.models import Account
from hugbox.db import Base, UTCDateTime, utcnow

THEMES = ("orange", "blue", "green", "purple", "pink", "indigo")
REPO_ITEM_TYPES = ("model", "dataset", "space")
ITEM_TYPES = (*REPO_ITEM_TYPES, "paper", "collection")


def object_id() -> str:
    """A lowercase 24-hex id, the shape of HF's (Mongo) ids, which clients expect."""
    return secrets.token_hex(12)


class RepoLike(Base):
    """A user's like of a repo. Gone with the repo (or the user) it names."""

    __tablename__ = "repo_likes"
    __table_args__ = (UniqueConstraint("repo_pk", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Collection(Base):
    """A titled, ordered list of repos, papers and other collections, owned by a user or an
    org. Its slug is `owner/title-words-<object_id>`: only the id names it, so an old slug (from
    before a rename) still finds it."""

    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(primary_key=True)
    object_id: Mapped[str] = mapped_column(String(24), unique=True, default=object_id)
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(60))
    description: Mapped[str | None] = mapped_column(String(150), default=None)
    private: Mapped[bool] = mapped_column(default=False)
    theme: Mapped[str] = mapped_column(String(16), default="orange")
    gating: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    upvotes: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[Account] = relationship(lazy="joined")


class CollectionItem(Base):
    """One entry of a collection. A repo is held by its row id (it keeps its place through a
    rename, and leaves with the repo); a paper by its arXiv id; a collection by its object id."""

    __tablename__ = "collection_items"
    __table_args__ = (UniqueConstraint("collection_id", "item_type", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    object_id: Mapped[str] = mapped_column(String(24), unique=True, default=object_id)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    item_type: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(64))
    repo_pk: Mapped[int | None] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), default=None, index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    note: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
