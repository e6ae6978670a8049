"""Wire shapes of the usage routes, named after huggingface_hub's types."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hugbox.wire import WireModel


class LFSFileInfo(WireModel):
    """An item of `list_lfs_files` (huggingface_hub's `LFSFileInfo`)."""

    fileOid: str
    filename: str
    oid: str
    pushedAt: str
    ref: str | None = None
    size: int


class LfsDeletions(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    sha: list[str] = Field(max_length=1000)
    rewrite_history: bool = Field(default=True, alias="rewriteHistory")


class LfsFilesBatch(BaseModel):
    """`permanently_delete_lfs_files`: `{"deletions": {"sha": [...], "rewriteHistory": bool}}`."""

    model_config = ConfigDict(extra="ignore")

    deletions: LfsDeletions
