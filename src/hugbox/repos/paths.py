"""Validation of paths inside a repo: nothing may escape it or touch git's own files."""

from __future__ import annotations

from hugbox.errors import UnprocessableEntity
from hugbox.names import MAX_NAME_BYTES, has_control


def check_path_in_repo(path: str) -> str:
    """Return the normalised path, or raise 422 for anything unsafe or malformed."""
    if not path or "\\" in path or has_control(path) or path.startswith("/"):
        raise UnprocessableEntity(f"Invalid path in repo: {path!r}")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise UnprocessableEntity(f"Invalid path in repo: {path!r} (empty, '.' or '..' segment)")
    if parts[0] == ".git" or ".git" in parts:
        raise UnprocessableEntity(f"Invalid path in repo: {path!r} (.git is reserved)")
    if len(path.encode()) > 4096:
        raise UnprocessableEntity("Invalid path in repo: longer than 4096 bytes")
    if any(len(part.encode()) > MAX_NAME_BYTES for part in parts):
        raise UnprocessableEntity(
            f"Invalid path in repo: a name is longer than {MAX_NAME_BYTES} bytes"
        )
    return path
