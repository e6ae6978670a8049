"""How each SDK is started inside the sandbox: its command, port and environment (the variables
HF sets in every space, and the ones Gradio and Streamlit read behind a path-prefix proxy)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from hugbox.spaces.config import SpaceConfig

PYTHON = "/opt/venv/bin/python"
HUB_PORT_INSIDE = 8000  # the app's HF_ENDPOINT is http://127.0.0.1:8000, bridged to the hub
GRADIO_PORT = 7860
STREAMLIT_PORT = 8501


@dataclass(frozen=True)
class Identity:
    """Who the space is, for the variables HF injects."""

    repo_id: str
    title: str
    creator_id: int | None
    spaces_url: str  # public base of the spaces origin


def command_for(config: SpaceConfig) -> tuple[list[str], int]:
    """The argv inside the sandbox and the port the app listens on."""
    if config.sdk == "streamlit":
        return [PYTHON, "-m", "streamlit", "run", config.app_file], STREAMLIT_PORT
    if config.sdk == "docker":
        return [], config.app_port  # the image's own command
    return [PYTHON, config.app_file], GRADIO_PORT


def environment(
    config: SpaceConfig, identity: Identity, *, user_env: dict[str, str], memory: int
) -> dict[str, str]:
    """The app's whole environment: the owner's variables and secrets, then hugbox's own."""
    env = dict(user_env)
    env.update(_space_variables(identity, memory))
    env.update(_sdk_variables(config, identity.repo_id))
    return env


def prefix(repo_id: str) -> str:
    """Where the proxy serves the app on the spaces origin."""
    return f"/spaces/{repo_id}"


def _space_variables(identity: Identity, memory: int) -> dict[str, str]:
    """HF's variables, but for SYSTEM=spaces: with it Gradio starts HF's hot-reload watcher,
    which needs HF's own `spaces` package and fails loudly in every run log without it."""
    author, _, name = identity.repo_id.partition("/")
    return {
        "SPACE_ID": identity.repo_id,
        "SPACE_AUTHOR_NAME": author,
        "SPACE_REPO_NAME": name,
        "SPACE_TITLE": identity.title or name,
        "SPACE_HOST": urlsplit(identity.spaces_url).netloc,
        "SPACE_CREATOR_USER_ID": str(identity.creator_id or ""),
        "CPU_CORES": str(os.cpu_count() or 1),
        "MEMORY": f"{memory // 1024**3}Gi" if memory >= 1024**3 else f"{memory // 1024**2}Mi",
        "ACCELERATOR": "none",
        "HF_ENDPOINT": f"http://127.0.0.1:{HUB_PORT_INSIDE}",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "PYTHONUNBUFFERED": "1",  # log lines reach the run log as they are printed
    }


def _sdk_variables(config: SpaceConfig, repo_id: str) -> dict[str, str]:
    if config.sdk == "docker":
        return {}  # HF gives a Docker space only the variables above
    if config.sdk == "streamlit":
        return {
            "STREAMLIT_SERVER_PORT": str(STREAMLIT_PORT),
            "STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
            "STREAMLIT_SERVER_HEADLESS": "true",
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
            # Streamlit serves under its base path itself: the proxy keeps the prefix.
            "STREAMLIT_SERVER_BASE_URL_PATH": prefix(repo_id).lstrip("/"),
            # XSRF cookies are dropped inside iframes (HF's advice for embedded apps).
            "STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION": "false",
        }
    return {
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(GRADIO_PORT),
        # The proxy strips the prefix; Gradio puts it back in the URLs it writes.
        "GRADIO_ROOT_PATH": prefix(repo_id),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_ALLOW_FLAGGING": "never",
        "GRADIO_NUM_PORTS": "1",
        "GRADIO_SSR_MODE": "false",
        "GRADIO_TEMP_DIR": "/tmp/gradio",  # noqa: S108 - the sandbox's own private /tmp
    }
