"""The Spaces runtime API huggingface_hub calls: runtime, restart, pause, sleep time, hardware,
secrets, variables and logs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session
from starlette.convertors import register_url_convertor

from hugbox.db import Database
from hugbox.deps import SessionDep, SettingsDep, get_settings
from hugbox.errors import BadRequest, NotFound
from hugbox.repos.deps import ReadableRepo, RepoTypeConvertor, WritableRepo
from hugbox.repos.models import Repo, RepoFields, RepoType
from hugbox.spaces import logs, service
from hugbox.spaces.files import SpaceFiles
from hugbox.spaces.models import SettingKind, SpaceRuntime, SpaceStage
from hugbox.spaces.schemas import JobHardwareInfo, SpaceHost, SpaceSecret, SpaceVariable
from hugbox.spaces.schemas import SpaceRuntime as SpaceRuntimeInfo
from hugbox.urls import base_url
from hugbox.wire import returns


class SpaceTypeConvertor(RepoTypeConvertor):
    """`spaces` only: the runtime API exists for no other repo type."""

    regex = "spaces"


register_url_convertor("spacetype", SpaceTypeConvertor())
router = APIRouter()
SPACE = "/api/{repo_type:spacetype}/{namespace}/{name}"
HARDWARE_CATALOGUE = [
    {"name": service.HARDWARE, "prettyName": "This hub's CPUs", "cpu": "shared",
     "ram": "per space limit", "accelerator": None, "unitCostMicroUSD": 0, "unitCostUSD": 0,
     "unitLabel": "hour"},
]  # fmt: skip


def _space(repo: Repo) -> Repo:
    if repo.type is not RepoType.SPACE:
        raise NotFound("Not a space")
    return repo


def _runtime(session: SessionDep, repo: Repo, settings: SettingsDep) -> dict[str, Any]:
    runtime = session.get(SpaceRuntime, repo.pk)
    return service.runtime_info(runtime, default_sleep=settings.spaces_sleep_time)


@router.get("/api/spaces/hardware", **returns(list[JobHardwareInfo]))
def list_spaces_hardware() -> list[dict[str, Any]]:
    return HARDWARE_CATALOGUE


@router.get(SPACE + "/runtime", **returns(SpaceRuntimeInfo))
def get_space_runtime(repo: ReadableRepo, session: SessionDep, settings: SettingsDep) -> Any:
    return _runtime(session, _space(repo), settings)


@router.get(SPACE + "/host", **returns(SpaceHost))
def get_space_host(repo: ReadableRepo, request: Request, settings: SettingsDep) -> Any:
    return {"host": service.space_host(settings, base_url(request), _space(repo).repo_id)}


@router.post(SPACE + "/restart", **returns(SpaceRuntimeInfo))
def restart_space(
    repo: WritableRepo, session: SessionDep, settings: SettingsDep, factory: bool = False
) -> Any:
    service.restart(session, _space(repo), factory=factory)
    return _runtime(session, repo, settings)


@router.post(SPACE + "/pause", **returns(SpaceRuntimeInfo))
def pause_space(repo: WritableRepo, session: SessionDep, settings: SettingsDep) -> Any:
    service.pause(session, _space(repo))
    return _runtime(session, repo, settings)


class SleepTimeBody(BaseModel):
    seconds: int


@router.post(SPACE + "/sleeptime", **returns(SpaceRuntimeInfo))
def set_space_sleep_time(
    repo: WritableRepo, body: SleepTimeBody, session: SessionDep, settings: SettingsDep
) -> Any:
    service.set_sleep_time(session, _space(repo), body.seconds)
    return _runtime(session, repo, settings)


class HardwareBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    flavor: str
    sleepTimeSeconds: int | None = None


@router.post(SPACE + "/hardware", **returns(SpaceRuntimeInfo))
def request_space_hardware(
    repo: WritableRepo, body: HardwareBody, session: SessionDep, settings: SettingsDep
) -> Any:
    service.request_hardware(session, _space(repo), flavor=body.flavor,
                             sleep=body.sleepTimeSeconds)  # fmt: skip
    return _runtime(session, repo, settings)


class SettingBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str
    value: str = ""
    description: str | None = None


class KeyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str


# What the listings send, by key: a secret's value is never shown again.
LISTINGS: dict[SettingKind, Any] = {
    SettingKind.SECRET: dict[str, SpaceSecret],
    SettingKind.VARIABLE: dict[str, SpaceVariable],
}


def _listing(session: SessionDep, repo: Repo, kind: SettingKind) -> dict[str, Any]:
    rows = service.list_settings(session, repo, kind)
    with_value = kind is SettingKind.VARIABLE  # a secret's value is never shown again
    return {row.key: service.setting_info(row, with_value=with_value) for row in rows}


@router.get(SPACE + "/secrets", **returns(LISTINGS[SettingKind.SECRET]))
def get_space_secrets(repo: WritableRepo, session: SessionDep) -> Any:
    return _listing(session, _space(repo), SettingKind.SECRET)


@router.get(SPACE + "/variables", **returns(LISTINGS[SettingKind.VARIABLE]))
def get_space_variables(repo: ReadableRepo, session: SessionDep) -> Any:
    return _listing(session, _space(repo), SettingKind.VARIABLE)


def _add_and_delete_routes(kind: SettingKind) -> None:
    """`add_space_secret` / `delete_space_secret`, and the same for variables: both answer
    the new listing."""
    path = f"{SPACE}/{kind.value}s"
    listing = returns(LISTINGS[kind])

    @router.post(path, name=f"add_space_{kind.value}", **listing)
    def add(repo: WritableRepo, body: SettingBody, session: SessionDep) -> Any:
        service.add_setting(session, _space(repo), kind, key=body.key, value=body.value,
                            description=body.description)  # fmt: skip
        return _listing(session, repo, kind)

    @router.delete(path, name=f"delete_space_{kind.value}", **listing)
    def delete(repo: WritableRepo, body: KeyBody, session: SessionDep) -> Any:
        service.delete_setting(session, _space(repo), kind, key=body.key)
        return _listing(session, repo, kind)


for _kind in SettingKind:
    _add_and_delete_routes(_kind)


@router.get(SPACE + "/logs/{kind}", response_class=StreamingResponse)
def get_space_logs(
    repo: ReadableRepo,
    kind: str,
    request: Request,
    settings: SettingsDep,
    tail: Annotated[int | None, Query(ge=0)] = None,
) -> StreamingResponse:
    if kind not in ("build", "run"):
        raise BadRequest("Logs are `build` or `run`")
    space = _space(repo)
    path = SpaceFiles(settings.spaces_dir, space.pk).log(kind)
    database: Database = request.app.state.database
    active = _active_stages(kind)

    def live() -> bool:
        with database.session() as session:
            runtime = session.get(SpaceRuntime, space.pk)
            return runtime is not None and runtime.stage in active

    events: AsyncIterator[bytes] = logs.sse(path, tail=tail, live=live)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


def _active_stages(kind: str) -> frozenset[SpaceStage]:
    """While the space is in one of these, its log may still grow: the stream stays open."""
    if kind == "build":
        return frozenset({SpaceStage.BUILDING, SpaceStage.RUNNING_BUILDING})
    return frozenset({SpaceStage.APP_STARTING, SpaceStage.RUNNING, SpaceStage.RUNNING_BUILDING,
                      SpaceStage.RUNNING_APP_STARTING})  # fmt: skip


# --- what spaces add to repos' own routes (wired as `RepoHooks` in create_app) ---------------


def info_fields(request: Request, session: Session, repo: RepoFields) -> dict[str, Any]:
    """A space's `host` and `runtime` in its info (wired for spaces only): clients such as
    gradio_client find the app there."""
    return service.space_fields(session, get_settings(request), base_url(request), repo)


def configure(session: Session, repo: Repo, options: dict[str, Any]) -> None:
    """The space settings `create_repo` and `duplicate_repo` may carry."""
    if repo.type is RepoType.SPACE:
        service.configure(
            session, repo, hardware=options.get("hardware"),
            sleep=options.get("sleepTimeSeconds"), secrets=options.get("secrets") or [],
            variables=options.get("variables") or [],
        )  # fmt: skip


def copied(session: Session, source: Repo, copy: Repo) -> None:
    if copy.type is RepoType.SPACE:
        service.copy_variables(session, source=source, target=copy)
