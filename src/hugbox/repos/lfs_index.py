"""Which git blob id each large file's content would have, recorded when the content passes."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.orm import Session

from hugbox.repos.models import LfsObject
from hugbox.storage import git


def content_git_oid(path: Path) -> str:
    """The git blob id of a file's content (what clients compute for regular files)."""
    return git.hash_file(path)


def record(session: Session, objects: Iterable[LfsObject]) -> None:
    for obj in objects:
        if session.get(LfsObject, obj.oid) is None:
            session.add(obj)
    session.flush()


def git_oid_of(session: Session, oid: str) -> str | None:
    found = session.get(LfsObject, oid)
    return found.git_oid if found else None
