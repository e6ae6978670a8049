"""One scaled hub for the session: two replicas behind nginx on PostgreSQL, S3 and Redis, as
deploy/scaled.py starts it (moto for S3 unless S3_ENDPOINT names a real server)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "deploy"))

from scaled_hub import ScaledHub, scaled_hub  # deploy/ is not a package

pytestmark = pytest.mark.scaled


@pytest.fixture(scope="session")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledHub]:
    with scaled_hub(tmp_path_factory.mktemp("scaled")) as hub:
        hub.create_user("alice", "pw-alice")
        hub.create_user("bob", "pw-bob")
        yield hub
