"""Shared fixtures: a fresh data dir with users and tokens, and a live hub on a local port.

The client libraries read HF_ENDPOINT and HF_HOME once, when first imported, so they are set
here, before any test module imports huggingface_hub.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from s3 import S3Server, s3_server
from support import Hub, create_token, free_port, run_cli, running_hub
from testdb import Template, template

PORT = free_port()
ENDPOINT = f"http://127.0.0.1:{PORT}"
_HF_HOME = tempfile.mkdtemp(prefix="hugbox-hf-home-")
atexit.register(shutil.rmtree, _HF_HOME, ignore_errors=True)
os.environ.update(
    HF_ENDPOINT=ENDPOINT,
    HF_HOME=_HF_HOME,
    HF_HUB_DISABLE_TELEMETRY="1",
    HF_HUB_DISABLE_UPDATE_CHECK="1",
    HF_HUB_DISABLE_PROGRESS_BARS="1",
    HF_HUB_ETAG_TIMEOUT="30",
    HF_HUB_DOWNLOAD_TIMEOUT="60",
    TOKENIZERS_PARALLELISM="false",
)
os.environ.pop("HF_TOKEN", None)
# Every JSON response a test sees is checked against its route's declared model (hugbox.wire).
os.environ["HUGBOX_CHECK_RESPONSES"] = "1"
# Encoder workers stay on transformers unless a test asks for ONNX Runtime: a background export
# per tiny model would cost CPU the rest of the suite needs (tests/compat/test_inference_onnx.py).
os.environ.setdefault("HUGBOX_INFERENCE_ONNX", "false")
# Space builds share one wheel cache across test runs: gradio and streamlit download once.
os.environ.setdefault(
    "HUGBOX_SPACES_UV_CACHE", str(Path.home() / ".cache" / "hugbox-tests" / "uv-cache")
)


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """An S3 server: moto in process, or the real one S3_ENDPOINT names (Ceph RGW in CI)."""
    with s3_server() as server:
        yield server


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """A database migrated once per run, for in-process tests to copy (~1 ms, not ~150 ms; on
    PostgreSQL ~20 ms, not ~400 ms)."""
    return template(tmp_path_factory.mktemp("template"))


def _seed(data_dir: Path) -> dict[str, str]:
    for user in ("alice", "bob", "carol"):
        assert run_cli(data_dir, "user", "create", user, "--password", "pw-" + user).returncode == 0
    assert run_cli(data_dir, "org", "create", "acme", "--owner", "alice").returncode == 0
    assert run_cli(data_dir, "org", "add-member", "acme", "bob", "--role", "read").returncode == 0
    assert (
        run_cli(data_dir, "org", "add-member", "acme", "carol", "--role", "write").returncode == 0
    )
    return {
        "alice": create_token(data_dir, "alice", "write"),
        "alice_read": create_token(data_dir, "alice", "read"),
        "bob": create_token(data_dir, "bob", "write"),
        "carol": create_token(data_dir, "carol", "write"),
    }


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    data_dir = tmp_path_factory.mktemp("hub-data")
    tokens = _seed(data_dir)
    with running_hub(data_dir, port=PORT, log_path=data_dir / "server.log") as endpoint:
        yield Hub(endpoint=endpoint, data_dir=data_dir, **tokens)
