"""A space's README config: what runs, what is a NO_APP_FILE or a CONFIG_ERROR and why; and the
environment each SDK is started with."""

from __future__ import annotations

import pytest

from hugbox.spaces.config import ConfigProblem, SdkDefaults, parse_duration, read_config
from hugbox.spaces.host import launch
from hugbox.spaces.models import SpaceStage

DEFAULTS = SdkDefaults(gradio="6.31.0", streamlit="1.67.0")


def _problem(card: dict[str, object], files: set[str], sdk: str | None = None) -> ConfigProblem:
    with pytest.raises(ConfigProblem) as raised:
        read_config(card, files, sdk=sdk, defaults=DEFAULTS)
    return raised.value


def test_gradio_defaults() -> None:
    config = read_config({"sdk": "gradio"}, {"app.py"}, sdk=None, defaults=DEFAULTS)
    assert config.sdk_requirements == ["gradio==6.31.0"]
    assert config.app_file == "app.py" and config.probe_path == "/"
    assert config.startup_timeout_s == 30 * 60


def test_readme_fields_win_over_the_creation_sdk() -> None:
    card = {"sdk": "streamlit", "sdk_version": "1.50.0", "app_file": "src/main.py",
            "python_version": "3.11", "startup_duration_timeout": "1h", "title": "T"}  # fmt: skip
    config = read_config(card, {"src/main.py"}, sdk="gradio", defaults=DEFAULTS)
    assert config.sdk_requirements == ["streamlit==1.50.0"]
    assert config.probe_path == "/_stcore/health"
    assert (config.app_file, config.python_version, config.startup_timeout_s) == (
        "src/main.py", "3.11", 3600.0)  # fmt: skip


def test_static_needs_its_html_file() -> None:
    assert read_config({}, {"index.html"}, sdk="static", defaults=DEFAULTS).sdk_requirements == []
    problem = _problem({"sdk": "static"}, {"README.md"})
    assert problem.stage is SpaceStage.NO_APP_FILE and "index.html" in problem.message


@pytest.mark.parametrize(
    ("card", "words"),
    [
        ({"sdk": "docker"}, "container engine"),
        ({"sdk": "nodejs"}, "sdk: nodejs is not supported"),
        ({}, "No sdk"),
        ({"sdk": "gradio", "sdk_version": "latest!"}, "not a version"),
        ({"sdk": "gradio", "python_version": "2.7"}, "python_version"),
        ({"sdk": "gradio", "startup_duration_timeout": "soon"}, "not a duration"),
    ],
)
def test_config_errors_say_what_to_change(card: dict[str, object], words: str) -> None:
    problem = _problem(card, {"app.py", "Dockerfile"})
    assert problem.stage is SpaceStage.CONFIG_ERROR and words in problem.message


def test_durations() -> None:
    assert [parse_duration(v) for v in ("90s", "30m", "2h", "1d", "45", None)] == [
        90, 1800, 7200, 86400, 45, 30 * 60]  # fmt: skip


def test_gradio_runs_under_the_prefix_and_talks_to_the_hub_through_the_bridge() -> None:
    config = read_config({"sdk": "gradio"}, {"app.py"}, sdk=None, defaults=DEFAULTS)
    identity = launch.Identity("alice/demo", "Demo", 7, "http://spaces.example:8001")
    env = launch.environment(config, identity, user_env={"MODEL": "gpt2"}, memory=2 * 1024**3)
    assert launch.command_for(config) == (["/opt/venv/bin/python", "app.py"], 7860)
    assert env["GRADIO_ROOT_PATH"] == "/spaces/alice/demo"
    assert env["HF_ENDPOINT"] == "http://127.0.0.1:8000"
    assert (env["SPACE_ID"], env["SPACE_HOST"], env["MEMORY"]) == (
        "alice/demo", "spaces.example:8001", "2Gi")  # fmt: skip
    assert env["MODEL"] == "gpt2" and "SYSTEM" not in env


def test_streamlit_keeps_its_base_path() -> None:
    config = read_config({"sdk": "streamlit"}, {"app.py"}, sdk=None, defaults=DEFAULTS)
    identity = launch.Identity("alice/st", "", None, "http://h:1")
    env = launch.environment(config, identity, user_env={}, memory=512 * 1024**2)
    assert launch.command_for(config)[0][-3:] == ["streamlit", "run", "app.py"]
    assert env["STREAMLIT_SERVER_BASE_URL_PATH"] == "spaces/alice/st"
    assert env["MEMORY"] == "512Mi"


def test_docker_runs_its_dockerfile_on_its_app_port_where_an_engine_is_configured() -> None:
    engine = SdkDefaults(gradio="6.31.0", streamlit="1.67.0", docker=True)
    config = read_config({"sdk": "docker", "app_port": 8080}, {"Dockerfile"}, sdk=None,
                         defaults=engine)  # fmt: skip
    assert (config.app_file, config.app_port, config.sdk_requirements) == ("Dockerfile", 8080, [])
    assert read_config({}, {"Dockerfile"}, sdk="docker", defaults=engine).app_port == 7860
    assert launch.command_for(config) == ([], 8080)
    identity = launch.Identity("alice/box", "Box", 7, "http://spaces.example:8001")
    env = launch.environment(config, identity, user_env={}, memory=2 * 1024**3)
    assert env["SPACE_ID"] == "alice/box" and "GRADIO_ROOT_PATH" not in env


@pytest.mark.parametrize("port", ["web", 0, 70000, True, 80.5])
def test_a_docker_app_port_must_be_a_port(port: object) -> None:
    engine = SdkDefaults(gradio="6.31.0", streamlit="1.67.0", docker=True)
    with pytest.raises(ConfigProblem) as raised:
        read_config({"sdk": "docker", "app_port": port}, {"Dockerfile"}, sdk=None, defaults=engine)
    assert raised.value.stage is SpaceStage.CONFIG_ERROR and "app_port" in raised.value.message


def test_docker_without_an_engine_says_so_whatever_its_files() -> None:
    problem = _problem({"sdk": "docker"}, {"Dockerfile"})
    assert problem.stage is SpaceStage.CONFIG_ERROR and "container engine" in problem.message
