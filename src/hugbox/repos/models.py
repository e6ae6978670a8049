"""Tables of the repos domain, and the value types its services return."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hugbox.auth.models import Account
from hugbox.db import Base, UTCDateTime, str_enum, utcnow


class RepoType(StrEnum):
    MODEL = "model"
    DATASET = "dataset"
    SPACE = "space"

    @property
    def url_prefix(self) -> str:
        """Prefix of web and file URLs: models have none (`gpt2`, `datasets/x/y`)."""
        return "" if self is RepoType.MODEL else f"{self.value}s/"

    @classmethod
    def from_plural(cls, plural: str) -> RepoType:
        return cls(plural.removesuffix("s"))


class Repo(Base):
    """A model, dataset or space repository. Its content lives in a bare git repo on disk."""

    __tablename__ = "repos"
    __table_args__ = (UniqueConstraint("type", "id_lower"),)

    pk: Mapped[int] = mapped_column("id", primary_key=True)
    type: Mapped[RepoType] = mapped_column(str_enum(RepoType))
    namespace: Mapped[str] = mapped_column(String(96))
    name: Mapped[str] = mapped_column(String(96))
    id_lower: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), default=None)
    private: Mapped[bool] = mapped_column(default=False)
    gated: Mapped[str | None] = mapped_column(String(16), default=None)  # None | auto | manual
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Denormalised from the default branch on every commit, so listings never read git.
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    head_sha: Mapped[str | None] = mapped_column(String(40), default=None)
    card_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    pipeline_tag: Mapped[str | None] = mapped_column(String(64), default=None)
    library_name: Mapped[str | None] = mapped_column(String(64), default=None)
    sdk: Mapped[str | None] = mapped_column(String(32), default=None)
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    likes: Mapped[int] = mapped_column(default=0)
    used_storage: Mapped[int] = mapped_column(BigInteger, default=0)
    # Kept by the usage part (src/hugbox/usage/): `downloads` is the last 30 days, these the
    # total and the trending score, on the row so listings sort by them without a join.
    downloads_all_time: Mapped[int] = mapped_column(BigInteger, default=0)
    trending_score: Mapped[int] = mapped_column(default=0)
    # Whether `repo_objects` lists every large file its history names (repos made before that
    # table existed are indexed once, at start; see repos/objects.py).
    objects_indexed: Mapped[bool] = mapped_column(default=True)

    owner: Mapped[Account] = relationship(foreign_keys=[owner_id], lazy="joined")

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def git_dir_name(self) -> str:
        # Keyed by the immutable primary key, so a move renames nothing on disk.
        return f"{self.pk}.git"


class RepoFields(Protocol):
    """What access checks, info and downloads read of a repo: a `Repo`, or a `RepoRecord`."""

    @property
    def pk(self) -> int: ...
    @property
    def type(self) -> RepoType: ...
    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def owner_id(self) -> int: ...
    @property
    def created_by_id(self) -> int | None: ...
    @property
    def private(self) -> bool: ...
    @property
    def gated(self) -> str | None: ...
    @property
    def disabled(self) -> bool: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def last_modified(self) -> datetime: ...
    @property
    def head_sha(self) -> str | None: ...
    @property
    def tags(self) -> list[str]: ...
    @property
    def pipeline_tag(self) -> str | None: ...
    @property
    def library_name(self) -> str | None: ...
    @property
    def sdk(self) -> str | None: ...
    @property
    def downloads(self) -> int: ...
    @property
    def likes(self) -> int: ...
    @property
    def downloads_all_time(self) -> int: ...
    @property
    def trending_score(self) -> int: ...
    @property
    def used_storage(self) -> int: ...
    @property
    def repo_id(self) -> str: ...
    @property
    def git_dir_name(self) -> str: ...


@dataclass(frozen=True, slots=True)
class RepoRecord:
    """A repo's row as plain values, read with Core by the most frequent read routes (no ORM
    object to build); what it lacks (the card's metadata, the owner) they never read."""

    pk: int
    type: RepoType
    namespace: str
    name: str
    owner_id: int
    created_by_id: int | None
    private: bool
    gated: str | None
    disabled: bool
    created_at: datetime
    last_modified: datetime
    head_sha: str | None
    tags: list[str]
    pipeline_tag: str | None
    library_name: str | None
    sdk: str | None
    downloads: int
    likes: int
    downloads_all_time: int
    trending_score: int
    used_storage: int

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def git_dir_name(self) -> str:
        return f"{self.pk}.git"


class RepoRef(Base):
    """The commit the database last recorded for one ref of a repo. git moves the ref first and
    the transaction records it after, so the two can part (a crash in between); the reconciler
    compares them and announces what the database missed (repos/reconcile.py)."""

    __tablename__ = "repo_refs"

    repo_pk: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    ref: Mapped[str] = mapped_column(String(512), primary_key=True)
    commit: Mapped[str] = mapped_column(String(40))


class RepoRedirect(Base):
    """An old id that still leads to a repo: after a move, or a legacy id such as `gpt2`."""

    __tablename__ = "repo_redirects"
    __table_args__ = (UniqueConstraint("type", "old_id_lower"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[RepoType] = mapped_column(str_enum(RepoType))
    old_id_lower: Mapped[str] = mapped_column(String(200))
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))

    repo: Mapped[Repo] = relationship(lazy="joined")


def new_request_id() -> str:
    return secrets.token_hex(12)


class AccessGrant(Base):
    """A user's access to a gated repo's files."""

    __tablename__ = "access_grants"
    __table_args__ = (UniqueConstraint("repo_pk", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))  # pending | accepted | rejected
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # HF's `requestId`: 24 hex digits, like the ids of its other objects.
    request_id: Mapped[str] = mapped_column(String(24), unique=True, default=new_request_id)
    fields: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # the form's answers
    rejection_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    # Set when an admin granted access without a request: then the email is not shared.
    granted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), default=None
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Discussion(Base):
    """A discussion or pull request; a PR's commits live on `refs/pr/<num>`."""

    __tablename__ = "discussions"
    __table_args__ = (UniqueConstraint("repo_pk", "num"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    num: Mapped[int]
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(default="")
    is_pull_request: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="open")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The branch a PR merges into, and the squash commit its merge wrote there.
    base_ref: Mapped[str] = mapped_column(String(255), default="refs/heads/main")
    merge_commit: Mapped[str | None] = mapped_column(String(40), default=None)
    # The description is the opening comment: edited and hidden as any other.
    description_edited: Mapped[bool] = mapped_column(default=False)
    description_hidden: Mapped[bool] = mapped_column(default=False)
    description_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    author: Mapped[Account | None] = relationship(lazy="joined")

    @property
    def opening_comment_id(self) -> str:
        """The opening post's 24-hex id (HF's ObjectId shape: seconds, then a counter)."""
        return f"{int(self.created_at.timestamp()):08x}{self.id:016x}"

    def event_fields(self) -> dict[str, Any]:
        """What every discussion event says about the discussion (events/service.py)."""
        return {
            "num": self.num, "title": self.title, "status": self.status,
            "is_pull_request": self.is_pull_request,
            "author": self.author.name if self.author else "deleted",
        }  # fmt: skip


class LfsObject(Base):
    """A large file's sha256 with the git blob id of its content, so `inline` preupload can
    tell clients (which compare git blob ids for regular files) that a file is unchanged."""

    __tablename__ = "lfs_objects"

    oid: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    git_oid: Mapped[str] = mapped_column(String(40))


class RepoObject(Base):
    """A large file (sha256) that some commit of the repo names: readers of the repo may read it.
    See repos/objects.py for the rule."""

    __tablename__ = "repo_objects"

    repo_pk: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    oid: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class ObjectUpload(Base):
    """A large file a user uploaded for a repo (LFS or Xet): theirs to read and commit there,
    before any commit names it."""

    __tablename__ = "object_uploads"

    repo_pk: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    oid: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
