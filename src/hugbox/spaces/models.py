"""Tables of the spaces domain: each space's runtime (what its owner asked for, what the
supervisor made of it) and its secrets and variables."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hugbox.db import Base, UTCDateTime, str_enum, utcnow


class SpaceStage(StrEnum):
    """The stages huggingface_hub knows, plus SLEEPING, which the hub also reports."""

    NO_APP_FILE = "NO_APP_FILE"
    CONFIG_ERROR = "CONFIG_ERROR"
    BUILDING = "BUILDING"
    BUILD_ERROR = "BUILD_ERROR"
    APP_STARTING = "APP_STARTING"
    RUNNING = "RUNNING"
    RUNNING_BUILDING = "RUNNING_BUILDING"
    RUNNING_APP_STARTING = "RUNNING_APP_STARTING"
    RUNTIME_ERROR = "RUNTIME_ERROR"
    SLEEPING = "SLEEPING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"
    DELETING = "DELETING"


class SettingKind(StrEnum):
    SECRET = "secret"  # noqa: S105 - a kind of setting, not a secret
    VARIABLE = "variable"


class SpaceRuntime(Base):
    """One row per space that was ever committed to. The API writes the wishes (`requested_sha`,
    `paused`, `restarts`, `sleep_time`) and bumps `generation`; the supervisor, which alone runs
    apps, reconciles and writes what it observed (`stage`, `error`, `built_sha`, ...)."""

    __tablename__ = "space_runtimes"

    repo_pk: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    generation: Mapped[int] = mapped_column(default=0)
    # Wishes
    requested_sha: Mapped[str | None] = mapped_column(String(40), default=None)
    paused: Mapped[bool] = mapped_column(default=False)
    restarts: Mapped[int] = mapped_column(default=0)
    factory_restarts: Mapped[int] = mapped_column(default=0)
    sleep_time: Mapped[int | None] = mapped_column(default=None)  # seconds; -1: never
    hardware: Mapped[str] = mapped_column(String(32), default="cpu-basic")
    # Observations
    stage: Mapped[SpaceStage] = mapped_column(
        str_enum(SpaceStage, length=32), default=SpaceStage.NO_APP_FILE
    )
    error: Mapped[str | None] = mapped_column(Text, default=None)
    built_sha: Mapped[str | None] = mapped_column(String(40), default=None)
    running_sha: Mapped[str | None] = mapped_column(String(40), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SpaceSetting(Base):
    """A secret or a variable. Both reach the app as environment variables; a secret's value is
    never shown again, and is not copied when the space is duplicated."""

    __tablename__ = "space_settings"
    __table_args__ = (UniqueConstraint("repo_pk", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    kind: Mapped[SettingKind] = mapped_column(str_enum(SettingKind))
    key: Mapped[str] = mapped_column(String(128))
    value: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RunState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    WAKING = "waking"  # a spaces host that does not supervise asked the one that does


class SpaceRun(Base):
    """Where a space's app runs, in the database rather than one spaces host's memory: the host
    that started it, the runner and its handle (a container, a sandbox's pid), its state and when
    that host last saw it alive. One row per space, rewritten by each start."""

    __tablename__ = "space_runs"

    repo_pk: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True
    )
    host: Mapped[str] = mapped_column(String(255))  # the spaces host: `hostname:port`
    runner: Mapped[str] = mapped_column(String(32))  # bubblewrap, container
    pod: Mapped[str] = mapped_column(String(255))  # the container's name, `pid N` under bwrap
    state: Mapped[RunState] = mapped_column(str_enum(RunState, length=16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Where every spaces host reaches the running app (runs.encode); None when stopped.
    upstream: Mapped[str | None] = mapped_column(Text, default=None)
    # The last visit any spaces host saw: the supervising host puts an idle app to sleep by it.
    visited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class SpacesLease(Base):
    """Which spaces host supervises (builds, starts, puts to sleep) every space of the hub: the
    one whose lease has not expired. The others serve visits to apps it runs, and ask it to
    wake sleeping ones through `space_runs`."""

    __tablename__ = "spaces_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)  # "supervisor"
    host: Mapped[str] = mapped_column(String(255))  # the holder's spaces URL
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
