"""A space's configuration, read from its README front matter and files as HF documents them,
and the reasons it cannot run (NO_APP_FILE, CONFIG_ERROR) found before any build."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from hugbox.spaces.models import SpaceStage

SDKS = ("gradio", "streamlit", "static", "docker")
DEFAULT_STARTUP_TIMEOUT_S = 30 * 60
DEFAULT_APP_PORT = 7860  # HF's default `app_port` for Docker spaces
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_VERSION = re.compile(r"^\d+(\.\d+){0,2}([a-z0-9.+-]*)$")
_PYTHON = re.compile(r"^3\.\d+(\.\d+)?$")


@dataclass(frozen=True)
class SdkDefaults:
    """The SDK versions a space gets when its README names none, and whether this host has a
    container engine for `sdk: docker` spaces."""

    gradio: str
    streamlit: str
    docker: bool = False


@dataclass(frozen=True)
class SpaceConfig:
    sdk: str
    sdk_version: str
    python_version: str
    app_file: str
    startup_timeout_s: float
    title: str
    app_port: int = DEFAULT_APP_PORT  # where a Docker space's app listens

    @property
    def sdk_requirements(self) -> list[str]:
        """What the build installs before the space's requirements.txt."""
        return [] if self.sdk in ("static", "docker") else [f"{self.sdk}=={self.sdk_version}"]

    @property
    def probe_path(self) -> str:
        """A path that answers once the app is ready, as the app itself sees it."""
        return "/_stcore/health" if self.sdk == "streamlit" else "/"


class ConfigProblem(Exception):
    """Why the space cannot run as committed: `stage` is NO_APP_FILE or CONFIG_ERROR."""

    def __init__(self, stage: SpaceStage, message: str):
        super().__init__(message)
        self.stage = stage
        self.message = message


def read_config(
    card: Mapping[str, Any], files: Collection[str], *, sdk: str | None, defaults: SdkDefaults
) -> SpaceConfig:
    """The config of a commit whose README metadata is `card` and whose paths are `files`;
    `sdk` is the one given at creation, used when the README names none."""
    chosen = str(card.get("sdk") or sdk or "").strip().lower()
    _check_sdk(chosen, docker=defaults.docker)
    app_file = str(card.get("app_file") or _default_app_file(chosen)).lstrip("/")
    if app_file not in files:
        raise ConfigProblem(
            SpaceStage.NO_APP_FILE,
            f"No application file: add {app_file} to the repo, or name another one with "
            "`app_file:` in README.md",
        )
    return SpaceConfig(
        sdk=chosen,
        sdk_version=_sdk_version(card, chosen, defaults),
        python_version=_python_version(card),
        app_file=app_file,
        startup_timeout_s=parse_duration(card.get("startup_duration_timeout")),
        title=str(card.get("title") or ""),
        app_port=_app_port(card) if chosen == "docker" else DEFAULT_APP_PORT,
    )


def _check_sdk(sdk: str, *, docker: bool) -> None:
    if sdk == "docker" and not docker:
        raise ConfigProblem(
            SpaceStage.CONFIG_ERROR,
            "sdk: docker needs a container engine, and this host has none: use sdk: gradio, "
            "streamlit or static, or ask the operator to run Docker spaces elsewhere",
        )
    if sdk not in SDKS:
        named = f"sdk: {sdk}" if sdk else "No sdk"
        raise ConfigProblem(
            SpaceStage.CONFIG_ERROR,
            f"{named} is not supported: set `sdk:` in README.md to gradio, streamlit or static",
        )


def _default_app_file(sdk: str) -> str:
    return {"static": "index.html", "docker": "Dockerfile"}.get(sdk, "app.py")


def _app_port(card: Mapping[str, Any]) -> int:
    value = card.get("app_port", DEFAULT_APP_PORT)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ConfigProblem(
            SpaceStage.CONFIG_ERROR, f"app_port {value!r} is not a port number such as 7860"
        )
    return value


def _sdk_version(card: Mapping[str, Any], sdk: str, defaults: SdkDefaults) -> str:
    if sdk in ("static", "docker"):
        return ""
    version = str(card.get("sdk_version") or getattr(defaults, sdk)).strip()
    if not _VERSION.match(version):
        raise ConfigProblem(
            SpaceStage.CONFIG_ERROR, f"sdk_version {version!r} is not a version such as 6.31.0"
        )
    return version


def _python_version(card: Mapping[str, Any]) -> str:
    version = str(card.get("python_version") or "").strip()
    if version and not _PYTHON.match(version):
        raise ConfigProblem(
            SpaceStage.CONFIG_ERROR, f"python_version {version!r} is not a version such as 3.11"
        )
    return version


def parse_duration(value: object) -> float:
    """HF's duration strings (`30m`, `1h`, `90s`, a plain number of seconds)."""
    if value is None or value == "":
        return DEFAULT_STARTUP_TIMEOUT_S
    match = _DURATION.match(str(value))
    if match is None:
        raise ConfigProblem(
            SpaceStage.CONFIG_ERROR,
            f"startup_duration_timeout {value!r} is not a duration such as 30m or 1h",
        )
    return float(match.group(1)) * _UNITS[match.group(2)]
