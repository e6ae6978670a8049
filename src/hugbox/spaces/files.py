"""Where a space's things live on the host: builds (checkout + venv per commit), the sockets
dir, and the build and run logs."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

BUILDER_UID = 199_999  # every build runs as this unprivileged uid
FIRST_APP_UID = 200_000  # space n runs as uid FIRST_APP_UID + n: its processes are its own


@dataclass(frozen=True)
class SpaceFiles:
    root: Path  # <data dir>/spaces
    pk: int

    @property
    def home(self) -> Path:
        return self.root / str(self.pk)

    def build_dir(self, sha: str) -> Path:
        return self.home / "builds" / sha

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    def log(self, kind: str) -> Path:
        """`build` or `run`: JSON lines {"timestamp", "data"}."""
        return self.home / "logs" / f"{kind}.log"

    @property
    def uid(self) -> int:
        return FIRST_APP_UID + self.pk

    def drop_builds(self, keep: set[str]) -> None:
        """Remove the builds of commits no longer served."""
        builds = self.home / "builds"
        if not builds.is_dir():
            return
        for build in builds.iterdir():
            if build.name not in keep:
                shutil.rmtree(build, ignore_errors=True)

    def remove(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)
