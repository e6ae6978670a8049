"""The git-lfs batch API's JSON shapes (git-lfs's `BatchResponse`, `ObjectAction`, …), as
git-lfs and huggingface_hub's `lfs.py` read them, under git-lfs's own media type."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from hugbox.wire import WireModel

LFS_JSON = "application/vnd.git-lfs+json"


class LfsJSONResponse(JSONResponse):
    """JSON as git-lfs asks for it (`Accept: application/vnd.git-lfs+json`)."""

    media_type = LFS_JSON


class ObjectAction(WireModel):
    """Where to send or fetch one object. A multipart upload's `header` holds `chunk_size` and
    each part's URL by part number (HF's extension, read by huggingface_hub)."""

    href: str
    header: dict[str, str] | None = None


class ObjectActions(WireModel):
    download: ObjectAction | None = None
    upload: ObjectAction | None = None
    verify: ObjectAction | None = None


class ObjectError(WireModel):
    code: int
    message: str


class ObjectResponse(WireModel):
    """One object of the answer: its actions, no actions (the hub holds it), or its error."""

    oid: str
    size: int
    actions: ObjectActions | None = None
    error: ObjectError | None = None


class BatchResponse(WireModel):
    transfer: str  # "basic", "multipart" (HF) or "xet" (huggingface_hub 0.3x with hf_xet)
    objects: list[ObjectResponse]


class LfsPointer(WireModel):
    """An object named by its sha256 and size: what verify and multipart completion confirm."""

    oid: str
    size: int


class Lock(WireModel):
    id: str
    path: str
    locked_at: str
    owner: dict[str, str] | None = None


class LocksVerifyResponse(WireModel):
    """`POST …/locks/verify`: this hub holds no locks, so both lists are always empty."""

    ours: list[Lock]
    theirs: list[Lock]
    next_cursor: str = ""
