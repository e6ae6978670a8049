"""The conftest huggingface_hub's sdist leaves out, written for a live hugbox.

tests/upstream/run.py copies this file to `tests/conftest.py` of the unpacked sdist (in a cache
folder outside this repository). The upstream tests import `RepoFactory` from it and ask for the
`api`, `repo_factory`, `api_prod` and `mocker` fixtures; the staging constants it relies on are
rewritten by run.py to name the hub's endpoint, users and tokens.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from huggingface_hub import HfApi, RepoUrl

from .testing_constants import ENDPOINT_STAGING, TOKEN
from .testing_utils import repo_name

RepoFactory = Callable[..., RepoUrl]

# Markers of upstream's pyproject; `production` tests need huggingface.co itself.
MARKERS = ("api", "transfer", "inference", "xet", "no_xet", "production", "deprecated", "git_lfs")
MARKERS += ("vcr",)  # replays of recorded huggingface.co answers


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", f"{marker}: upstream marker")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        reason = _skip_reason(item)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def _skip_reason(item: pytest.Item) -> str | None:
    if item.get_closest_marker("production") or item.get_closest_marker("vcr"):
        return "needs huggingface.co itself"
    if item.get_closest_marker("no_xet"):
        return "needs an environment without hf_xet"
    if item.get_closest_marker("git_lfs") and not os.environ.get("RUN_GIT_LFS_TESTS"):
        return "git-lfs tests off (RUN_GIT_LFS_TESTS)"
    return None


@pytest.fixture(scope="session")  # class-scoped upstream fixtures ask for it
def api() -> HfApi:
    return HfApi(endpoint=ENDPOINT_STAGING, token=TOKEN)


@pytest.fixture
def api_prod() -> HfApi:
    pytest.skip("needs huggingface.co itself")


@pytest.fixture
def repo_factory() -> Iterator[RepoFactory]:
    """Create repos for a test (a bare name goes to the token's user) and delete them after."""
    created: list[tuple[HfApi, RepoUrl]] = []

    def create(repo_type: str | None = None, **kwargs: Any) -> RepoUrl:
        client = HfApi(endpoint=ENDPOINT_STAGING, token=kwargs.pop("token", None) or TOKEN)
        repo_id = kwargs.pop("repo_id", None) or repo_name()
        url = client.create_repo(repo_id=repo_id, repo_type=repo_type, **kwargs)
        created.append((client, url))
        return url

    yield create
    for client, url in created:
        client.delete_repo(url.repo_id, repo_type=url.repo_type, missing_ok=True)


class _Mocker:
    """The part of pytest-mock's `mocker` the upstream tests use: patches undone after a test."""

    def __init__(self) -> None:
        self._patches: list[Any] = []
        self.patch = self._start(mock.patch)
        self.patch.object = self._start(mock.patch.object)  # type: ignore[attr-defined]
        self.patch.dict = self._start(mock.patch.dict)  # type: ignore[attr-defined]
        self.MagicMock, self.Mock = mock.MagicMock, mock.Mock

    def _start(self, patcher: Callable[..., Any]) -> Any:
        def start(*args: Any, **kwargs: Any) -> Any:
            patch = patcher(*args, **kwargs)
            self._patches.append(patch)
            return patch.start()

        return start

    def stopall(self) -> None:
        for patch in reversed(self._patches):
            patch.stop()


@pytest.fixture
def mocker() -> Iterator[_Mocker]:
    patcher = _Mocker()
    yield patcher
    patcher.stopall()
