"""Import rules of the code base, pinned: pygit2 is imported in storage/ only, and services raise
the error tree without loading the web framework."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import hugbox

SOURCE = Path(hugbox.__file__).parent


def _imports(path: Path) -> Iterator[str]:
    """Every module `path` imports, at its top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_pygit2_is_imported_in_storage_only() -> None:
    leaks = [
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if "storage" not in path.relative_to(SOURCE).parts
        and any(name.split(".")[0] == "pygit2" for name in _imports(path))
    ]
    assert leaks == []


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
