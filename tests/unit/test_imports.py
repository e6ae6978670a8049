"""Import rules of the code base, pinned: the domain packages form no import cycle (a part
reacts to another through repo events or hooks wired in create_app, never by importing back),
pygit2 is imported in storage/ only, and services raise the error tree without loading the web
framework."""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import hugbox

SOURCE = Path(hugbox.__file__).parent


def _imports(path: Path) -> Iterator[str]:
    """Every module `path` imports, at its top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _domain_graph() -> dict[str, set[str]]:
    """{domain package: the other domain packages its modules import}."""
    domains = {path.parent.name for path in SOURCE.glob("*/__init__.py")}
    graph: dict[str, set[str]] = {domain: set() for domain in domains}
    for path in SOURCE.rglob("*.py"):
        parts = path.relative_to(SOURCE).parts
        if len(parts) < 2 or parts[0] not in domains:
            continue
        for name in _imports(path):
            pieces = name.split(".")
            if pieces[0] == "hugbox" and len(pieces) > 1 and pieces[1] in domains - {parts[0]}:
                graph[parts[0]].add(pieces[1])
    return graph


def test_domain_packages_form_no_import_cycle() -> None:
    try:
        order = list(graphlib.TopologicalSorter(_domain_graph()).static_order())
    except graphlib.CycleError as cycle:
        raise AssertionError(
            f"import cycle between domains: {' -> '.join(cycle.args[1])}"
        ) from None
    assert {"auth", "repos", "spaces", "xet", "web"} <= set(order)


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


def test_services_load_no_web_framework() -> None:
    # One fresh interpreter imports them in turn and names the first that pulls the framework in.
    probe = (
        "import importlib, sys\n"
        f"for name in {SERVICES!r}:\n"
        "    importlib.import_module(name)\n"
        "    if {'fastapi', 'starlette'} & set(sys.modules):\n"
        "        print(name)\n"
        "        break\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, check=True)
    assert loaded.stdout.decode().strip() == ""
