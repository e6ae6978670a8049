"""Build a demo repo folder once: build in a temp dir, mark it complete, rename into place."""

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

MARKER = "COMPLETE.json"
REPO_DIRNAME = "repo"


def is_complete(entry: Path, version: int) -> bool:
    """Tell whether `entry` holds a finished build made by builder `version`."""
    try:
        marker = json.loads((entry / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("version") == version


def build_once(
    cache_dir: Path, name: str, version: int, build: Callable[[Path, Path], None]
) -> Path:
    """Return cache_dir/<name>/repo, calling `build(repo_dir, work_dir)` only if not yet built.

    The marker sits beside the repo folder, not in it, so it never becomes a repo file. Bumping
    `version` rebuilds an entry whose recipe changed.
    """
    entry = cache_dir / name
    if is_complete(entry, version):
        return entry / REPO_DIRNAME
    cache_dir.mkdir(parents=True, exist_ok=True)
    remove_stale(cache_dir, name)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=cache_dir))
    try:
        started = time.monotonic()
        repo_dir = staging / REPO_DIRNAME
        repo_dir.mkdir()
        work_dir = staging / "work"
        work_dir.mkdir()
        build(repo_dir, work_dir)
        # Scratch files (an unpacked GGUF, tokenized corpora) are not part of the result.
        shutil.rmtree(work_dir)
        open_permissions(staging)
        seconds = round(time.monotonic() - started, 1)
        marker = {"version": version, "build_seconds": seconds}
        (staging / MARKER).write_text(json.dumps(marker), encoding="utf-8")
        if entry.exists():
            shutil.rmtree(entry)
        staging.rename(entry)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("built %s in %.1f s", name, seconds)
    return entry / REPO_DIRNAME


def remove_stale(cache_dir: Path, name: str) -> None:
    """Delete staging folders left behind by a build that was killed part-way."""
    for leftover in cache_dir.glob(f".{name}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def open_permissions(root: Path) -> None:
    """Make a finished build world-readable.

    mkdtemp creates the folder owner-only, and some writers (safetensors) create 0600 files; a
    server running as another user must still be able to read the repos.
    """
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
