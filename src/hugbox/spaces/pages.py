"""Space pages: the app above a space's card, and its owners' settings (sleep time, secrets,
variables) on the repo settings page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request

from hugbox.auth.sessions import PageCaller
from hugbox.deps import SessionDep, get_settings
from hugbox.errors import BadRequest
from hugbox.repos.deps import load_repo
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.service import Need
from hugbox.spaces import service
from hugbox.spaces.api import SPACE  # registers the `spacetype` convertor our paths use
from hugbox.spaces.models import SettingKind, SpaceRuntime, SpaceSetting
from hugbox.urls import base_url
from hugbox.web.session import CheckedForm

router = APIRouter(tags=["pages"])
SETTINGS = SPACE.removeprefix("/api") + "/settings"
SLEEP_CHOICES = (("5 minutes", 300), ("15 minutes", 900), ("1 hour", 3600),
                 ("12 hours", 12 * 3600), ("48 hours", 48 * 3600), ("Never", -1))  # fmt: skip


@dataclass(frozen=True)
class SpaceView:
    """The app's frame, its stage (as `GET /api/spaces/{id}/runtime` says) and its error."""

    host: str
    stage: str
    error: str | None
    static: bool

    @property
    def origin(self) -> str:
        """The spaces origin, which the page's CSP must allow to frame."""
        parts = urlsplit(self.host)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def tone(self) -> str:
        return stage_tone(self.stage)

    @property
    def label(self) -> str:
        return self.stage.replace("_", " ").capitalize()

    @property
    def log_kind(self) -> str:
        """The log that says most about this stage."""
        return "build" if self.stage in ("BUILDING", "BUILD_ERROR", "CONFIG_ERROR") else "run"


def stage_tone(stage: str) -> str:
    """The badge's colour; /static/space.js applies the same rule to the stages it polls."""
    if stage.endswith("_ERROR"):
        return "error"
    if stage == "RUNNING":
        return "ok"
    if "BUILDING" in stage or "STARTING" in stage:
        return "busy"
    return "idle"


def space_view(request: Request, session: Session, repo: Repo) -> SpaceView | None:
    """What a space's page shows above its card; None for models and datasets."""
    if repo.type is not RepoType.SPACE:
        return None
    settings = get_settings(request)
    runtime = session.get(SpaceRuntime, repo.pk)
    info = service.runtime_info(runtime, default_sleep=settings.spaces_sleep_time)
    stage = str(info["stage"])
    return SpaceView(
        host=service.space_host(settings, base_url(request), repo.repo_id),
        stage=stage,
        error=info.get("errorMessage") if stage_tone(stage) == "error" else None,
        static=repo.sdk == "static",
    )


@dataclass(frozen=True)
class SpaceSettingsView:
    secrets: list[SpaceSetting]
    variables: list[SpaceSetting]
    sleep_time: int  # seconds; -1: never
    sleep_choices: list[tuple[str, int]]
    static: bool


def space_settings(request: Request, session: Session, repo: Repo) -> SpaceSettingsView | None:
    """What a space's settings page adds; None for models and datasets."""
    if repo.type is not RepoType.SPACE:
        return None
    runtime = session.get(SpaceRuntime, repo.pk)
    chosen = runtime.sleep_time if runtime is not None else None
    sleep_time = get_settings(request).spaces_sleep_time if chosen is None else chosen
    choices = list(SLEEP_CHOICES)
    if all(seconds != sleep_time for _, seconds in choices):  # set through the API
        choices.insert(0, (f"{sleep_time} seconds", sleep_time))
    return SpaceSettingsView(
        secrets=service.list_settings(session, repo, SettingKind.SECRET),
        variables=service.list_settings(session, repo, SettingKind.VARIABLE),
        sleep_time=sleep_time, sleep_choices=choices, static=repo.sdk == "static",
    )  # fmt: skip


def _owned_space(request: Request, session: SessionDep, caller: PageCaller) -> Repo:
    return load_repo(request, session, caller, Need.WRITE)


# Not repos.pages' WritablePageRepo: that module renders space_view, so it imports this one.
OwnedSpace = Annotated[Repo, Depends(_owned_space)]


def _text(form: FormData, field: str) -> str:
    value = form.get(field)
    return value if isinstance(value, str) else ""


def _back(repo: Repo, section: str) -> Response:
    return RedirectResponse(f"/spaces/{repo.repo_id}/settings#{section}", status_code=303)


def _save(session: Session, repo: Repo, kind: SettingKind, form: FormData) -> Response:
    service.add_setting(
        session, repo, kind, key=_text(form, "key").strip(),
        value=_text(form, "value").replace("\r\n", "\n"),  # a textarea posts CRLF line ends
        description=_text(form, "description").strip() or None,
    )  # fmt: skip
    return _back(repo, f"{kind.value}s")


def _remove(session: Session, repo: Repo, kind: SettingKind, form: FormData) -> Response:
    service.delete_setting(session, repo, kind, key=_text(form, "key").strip())
    return _back(repo, f"{kind.value}s")


@router.post(SETTINGS + "/secrets")
def save_secret(repo: OwnedSpace, session: SessionDep, form: CheckedForm) -> Response:
    return _save(session, repo, SettingKind.SECRET, form)


@router.post(SETTINGS + "/secrets/delete")
def remove_secret(repo: OwnedSpace, session: SessionDep, form: CheckedForm) -> Response:
    return _remove(session, repo, SettingKind.SECRET, form)


@router.post(SETTINGS + "/variables")
def save_variable(repo: OwnedSpace, session: SessionDep, form: CheckedForm) -> Response:
    return _save(session, repo, SettingKind.VARIABLE, form)


@router.post(SETTINGS + "/variables/delete")
def remove_variable(repo: OwnedSpace, session: SessionDep, form: CheckedForm) -> Response:
    return _remove(session, repo, SettingKind.VARIABLE, form)


@router.post(SETTINGS + "/sleep-time")
def save_sleep_time(repo: OwnedSpace, session: SessionDep, form: CheckedForm) -> Response:
    try:
        seconds = int(_text(form, "seconds"))
    except ValueError:
        raise BadRequest("Choose a sleep time") from None
    service.set_sleep_time(session, repo, seconds)
    return _back(repo, "sleep-time")
