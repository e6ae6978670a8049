"""Environments shared between builds. Spaces whose requirements are the same (same Python,
SDK and dependency files) run on one venv, read-only in every sandbox: a commit that changes
only the app's code, or a new space on the default SDK, starts without a build. A factory
rebuild makes a fresh venv; the one it replaces is kept until no app runs on it."""

from __future__ import annotations

import hashlib
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

READY = ".hugbox-ready"
DEPENDENCY_FILES = ("pre-requirements.txt", "requirements.txt", "packages.txt")
KEEP_UNUSED_S = 3600.0  # an unused venv may serve the next commit or a restart


def key(app_dir: Path, *, python: str, sdk_requirements: list[str]) -> str:
    """What the venv depends on: the interpreter, the SDK and the dependency files."""
    digest = hashlib.sha256(f"{python}\n{sorted(sdk_requirements)}\n".encode())
    for name in DEPENDENCY_FILES:
        path = app_dir / name
        if path.is_file() and not path.is_symlink():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class Venvs:
    root: Path  # <data dir>/spaces/venvs

    def path(self, key: str) -> Path:
        return self.root / key

    def ready(self, key: str) -> bool:
        return (self.path(key) / READY).exists()

    def staging(self, key: str) -> Path:
        """Where a build writes before `publish`: never a venv an app runs on."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / f"{key}.building-{uuid.uuid4().hex[:8]}"

    def publish(self, key: str, built: Path) -> Path:
        """Make `built` the venv of `key`; a previous one is renamed aside (apps running on it
        keep their mount) and collected once unused."""
        (built / READY).touch()
        final = self.path(key)
        if final.exists():
            final.rename(self.root / f"{key}.retired-{uuid.uuid4().hex[:8]}")
        built.rename(final)
        return final

    def donors(self, limit: int = 3) -> tuple[Path, ...]:
        """Finished venvs, most recently used first: a new build borrows their bytecode."""
        if not self.root.is_dir():
            return ()
        ready = [entry for entry in self.root.iterdir() if (entry / READY).exists()]
        ready.sort(key=_unused_for)
        return tuple(ready[:limit])

    def collect(self, *, in_use: set[int], referenced: set[str]) -> None:
        """Remove what no app runs on (by inode: a retired venv keeps its inode) and nothing
        names: failed builds, retired venvs, venvs unused for an hour."""
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if entry.lstat().st_ino in in_use or entry.name in referenced:
                continue
            if "." in entry.name or _unused_for(entry) > KEEP_UNUSED_S:
                shutil.rmtree(entry, ignore_errors=True)


def _unused_for(venv: Path) -> float:
    """Seconds since an app last started on the venv (its marker is touched at each start)."""
    try:
        return time.time() - (venv / READY).stat().st_mtime
    except FileNotFoundError:
        return float("inf")
