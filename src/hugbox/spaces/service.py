"""What the API asks of a space: its runtime, the owner's wishes (restart, pause, sleep time,
hardware), secrets and variables. Plain functions; the supervisor carries the wishes out."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.errors import BadRequest, NotFound
from hugbox.events import service as events
from hugbox.events.models import RepoEvent
from hugbox.repos.models import Repo, RepoFields, RepoType
from hugbox.settings import Settings
from hugbox.spaces.models import SettingKind, SpaceRuntime, SpaceSetting, SpaceStage

HARDWARE = "cpu-upgrade"  # this host; its sleep time is configurable, as on HF's upgraded tiers
DEFAULT_SLEEP_TIME = 48 * 3600
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# Set by hugbox for every app: a secret or variable may not hide them.
RESERVED_KEYS = frozenset({"SPACE_ID", "SPACE_AUTHOR_NAME", "SPACE_REPO_NAME", "SPACE_TITLE",
                           "SPACE_HOST", "SPACE_CREATOR_USER_ID", "HF_ENDPOINT", "HOME",
                           "PATH", "CPU_CORES", "MEMORY", "ACCELERATOR"})  # fmt: skip


def on_ref_moved(session: Session, event: RepoEvent) -> None:
    """A space's main branch moved: build and run its new head (idempotent)."""
    repo = session.get(Repo, event.repo_pk)
    if repo is not None and events.main_moved(event):
        space_changed(session, repo)


def space_changed(session: Session, repo: Repo) -> None:
    """A commit moved a space's main branch: the supervisor builds and runs the new head."""
    if repo.type is not RepoType.SPACE:
        return
    runtime = runtime_of(session, repo)
    runtime.requested_sha = repo.head_sha
    if runtime.stage not in (SpaceStage.PAUSED,):
        runtime.stage = _building_stage(runtime)
    _wish(runtime)


def runtime_of(session: Session, repo: Repo) -> SpaceRuntime:
    runtime = session.get(SpaceRuntime, repo.pk)
    if runtime is None:
        runtime = SpaceRuntime(repo_pk=repo.pk, requested_sha=repo.head_sha, generation=0)
        session.add(runtime)
        session.flush()
    return runtime


def restart(session: Session, repo: Repo, *, factory: bool) -> SpaceRuntime:
    runtime = _runtime_for_action(session, repo)
    runtime.paused = False
    runtime.restarts += 1
    if factory:
        runtime.factory_restarts += 1
    runtime.stage = SpaceStage.BUILDING if factory else _starting_stage(runtime)
    runtime.error = None
    return _wish(runtime)


def pause(session: Session, repo: Repo) -> SpaceRuntime:
    runtime = _runtime_for_action(session, repo)
    runtime.paused = True
    runtime.stage = SpaceStage.PAUSED
    return _wish(runtime)


# The column is a 32-bit integer in PostgreSQL: past this, the write itself would fail.
LONGEST_SLEEP = 2**31 - 1


def _check_sleep(seconds: int) -> int:
    if seconds != -1 and not 0 <= seconds <= LONGEST_SLEEP:
        raise BadRequest(
            f"`seconds` is a number of seconds up to {LONGEST_SLEEP}, or -1 to never sleep"
        )
    return seconds


def set_sleep_time(session: Session, repo: Repo, seconds: int) -> SpaceRuntime:
    runtime = runtime_of(session, repo)
    runtime.sleep_time = _check_sleep(seconds)
    return _wish(runtime)


def request_hardware(session: Session, repo: Repo, *, flavor: str, sleep: int | None) -> Any:
    if flavor not in (HARDWARE, "cpu-basic"):
        raise BadRequest(
            f"Hardware {flavor!r} is not available on this hub: spaces run on the hub's own "
            f"CPUs ({HARDWARE})"
        )
    runtime = runtime_of(session, repo)
    if sleep is not None:
        runtime.sleep_time = _check_sleep(sleep)
    return _wish(runtime)


def _runtime_for_action(session: Session, repo: Repo) -> SpaceRuntime:
    if repo.sdk == "static":
        raise BadRequest("Static spaces are always served: there is nothing to restart or pause")
    return runtime_of(session, repo)


def _building_stage(runtime: SpaceRuntime) -> SpaceStage:
    running = runtime.stage in (SpaceStage.RUNNING, SpaceStage.RUNNING_BUILDING)
    return SpaceStage.RUNNING_BUILDING if running else SpaceStage.BUILDING


def _starting_stage(runtime: SpaceRuntime) -> SpaceStage:
    if runtime.built_sha is None:
        return SpaceStage.BUILDING
    return SpaceStage.APP_STARTING


def _wish(runtime: SpaceRuntime) -> SpaceRuntime:
    runtime.generation += 1
    return runtime


def runtime_info(runtime: SpaceRuntime | None, *, default_sleep: int) -> dict[str, Any]:
    """The JSON of `GET /api/spaces/{id}/runtime`, as huggingface_hub's SpaceRuntime reads it."""
    stage = runtime.stage if runtime is not None else SpaceStage.NO_APP_FILE
    sleep = runtime.sleep_time if runtime is not None else None
    info: dict[str, Any] = {
        "stage": stage.value,
        "hardware": {
            "current": HARDWARE if stage is SpaceStage.RUNNING else None,
            "requested": HARDWARE,
        },
        "storage": None,
        "gcTimeout": default_sleep if sleep is None else (None if sleep == -1 else sleep),
        "replicas": {"current": 1 if stage is SpaceStage.RUNNING else 0, "requested": 1},
        "devMode": False,
        "domains": [],
    }
    if runtime is not None and runtime.error:
        info["errorMessage"] = runtime.error
    if runtime is not None and runtime.running_sha:
        info["sha"] = runtime.running_sha
    return info


# Secrets and variables


def list_settings(session: Session, repo: Repo, kind: SettingKind) -> list[SpaceSetting]:
    return list(
        session.scalars(
            select(SpaceSetting)
            .where(SpaceSetting.repo_pk == repo.pk, SpaceSetting.kind == kind)
            .order_by(SpaceSetting.key)
        )
    )


def add_setting(
    session: Session, repo: Repo, kind: SettingKind, *, key: str, value: str,
    description: str | None,
) -> SpaceSetting:  # fmt: skip
    """Add or replace a secret or a variable; the app sees it from its next start."""
    _check_key(key)
    setting = _find_setting(session, repo, kind, key)
    if setting is None:
        setting = SpaceSetting(repo_pk=repo.pk, kind=kind, key=key, value=value)
        session.add(setting)
    setting.value = value
    if description is not None or setting.description is None:
        setting.description = description
    _wish(runtime_of(session, repo))  # a running app restarts with it
    session.flush()
    return setting


def delete_setting(session: Session, repo: Repo, kind: SettingKind, *, key: str) -> None:
    setting = _find_setting(session, repo, kind, key)
    if setting is None:
        raise NotFound(f"No {kind.value} named {key!r} in {repo.repo_id}")
    session.delete(setting)
    _wish(runtime_of(session, repo))


def _find_setting(session: Session, repo: Repo, kind: SettingKind, key: str) -> SpaceSetting | None:
    return session.scalar(
        select(SpaceSetting).where(
            SpaceSetting.repo_pk == repo.pk, SpaceSetting.kind == kind, SpaceSetting.key == key
        )
    )


def _check_key(key: str) -> None:
    if not _KEY.match(key):
        raise BadRequest(
            f"Invalid key {key!r}: use letters, digits and underscores, not starting with a digit"
        )
    if key in RESERVED_KEYS:
        raise BadRequest(f"{key} is set by the hub for every space and cannot be replaced")


def setting_info(setting: SpaceSetting, *, with_value: bool) -> dict[str, Any]:
    info: dict[str, Any] = {"description": setting.description,
                            "updatedAt": _iso(setting.updated_at)}  # fmt: skip
    if with_value:
        info["value"] = setting.value
    return info


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def environment(session: Session, repo: Repo) -> tuple[dict[str, str], tuple[str, ...]]:
    """The space's variables and secrets as environment variables, and the secret values (the
    run log masks them)."""
    rows = session.scalars(select(SpaceSetting).where(SpaceSetting.repo_pk == repo.pk)).all()
    env = {row.key: row.value for row in sorted(rows, key=lambda r: r.kind == SettingKind.SECRET)}
    secrets = tuple(row.value for row in rows if row.kind is SettingKind.SECRET and row.value)
    return env, secrets


def configure(
    session: Session, repo: Repo, *, hardware: str | None, sleep: int | None,
    secrets: Iterable[dict[str, Any]], variables: Iterable[dict[str, Any]],
) -> None:  # fmt: skip
    """The space settings `create_repo` and `duplicate_repo` may carry."""
    if hardware is not None or sleep is not None:
        request_hardware(session, repo, flavor=hardware or HARDWARE, sleep=sleep)
    for kind, given in ((SettingKind.SECRET, secrets), (SettingKind.VARIABLE, variables)):
        for item in given:
            add_setting(session, repo, kind, key=str(item.get("key", "")),
                        value=str(item.get("value", "")),
                        description=item.get("description"))  # fmt: skip


def copy_variables(session: Session, *, source: Repo, target: Repo) -> None:
    """A duplicated space keeps the source's variables, not its secrets."""
    for variable in list_settings(session, source, SettingKind.VARIABLE):
        add_setting(session, target, SettingKind.VARIABLE, key=variable.key,
                    value=variable.value, description=variable.description)  # fmt: skip


def spaces_base_url(settings: Settings, hub_base: str) -> str:
    """The spaces origin: configured, else the hub's host on the spaces port (its own origin,
    so an app's scripts never run beside the hub's pages)."""
    if settings.spaces_url:
        return settings.spaces_url.rstrip("/")
    hub = urlsplit(hub_base)
    port = settings.spaces_port or (hub.port or (443 if hub.scheme == "https" else 80)) + 1
    return f"{hub.scheme}://{hub.hostname}:{port}"


def space_host(settings: Settings, hub_base: str, repo_id: str) -> str:
    """The app's URL as clients read it from `host`: it ends with `/`, so gradio_client's
    `urljoin(host, "config")` stays under the space."""
    return f"{spaces_base_url(settings, hub_base)}/spaces/{repo_id}/"


def space_fields(
    session: Session, settings: Settings, hub_base: str, repo: RepoFields
) -> dict[str, Any]:
    """What `space_info` adds to the repo's info."""
    runtime = session.get(SpaceRuntime, repo.pk)
    return {
        "host": space_host(settings, hub_base, repo.repo_id),
        "subdomain": re.sub(r"[^a-z0-9-]", "-", repo.repo_id.lower().replace("/", "-")),
        "runtime": runtime_info(runtime, default_sleep=settings.spaces_sleep_time),
    }
