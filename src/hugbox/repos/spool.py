"""Browser uploads (multipart form files) spooled into the files a commit is built from."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from starlette.datastructures import UploadFile

from hugbox.repos.payload import SpooledFile

_CHUNK = 1024 * 1024


def spool_upload(upload: UploadFile, spool_dir: Path) -> SpooledFile:
    """Copy an uploaded file into `spool_dir`, hashing it on the way (blocking: run it in a
    thread)."""
    digest = hashlib.sha256()
    size = 0
    handle, name = tempfile.mkstemp(dir=spool_dir, prefix="upload-")
    upload.file.seek(0)
    with open(handle, "wb") as out:  # noqa: PTH123 - an fd from mkstemp, not a path
        while chunk := upload.file.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return SpooledFile(path=Path(name), size=size, sha256=digest.hexdigest())


def spool_text(text: str, spool_dir: Path) -> SpooledFile:
    data = text.encode()
    handle, name = tempfile.mkstemp(dir=spool_dir, prefix="edit-")
    with open(handle, "wb") as out:  # noqa: PTH123 - an fd from mkstemp, not a path
        out.write(data)
    return SpooledFile(path=Path(name), size=len(data), sha256=hashlib.sha256(data).hexdigest())
