"""Import rules of the code base, pinned: services raise the error tree without loading the web
framework."""

from __future__ import annotations

import subprocess
import sys

import pytest

SERVICES = [
    "hugbox.errors",
    "hugbox.repos.service",
    "hugbox.repos.commits",
    "hugbox.repos.refs",
    "hugbox.events.service",
    "hugbox.jobs.service",
    "hugbox.auth.service",
]


@pytest.mark.parametrize("module", SERVICES)
def test_a_service_loads_no_web_framework(module: str) -> None:
    probe = f"import sys, {module}; print(sorted({{'fastapi', 'starlette'}} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, check=True)
    assert loaded.stdout.decode().strip() == "[]"
