"""The Xet JSON shapes: the hub's token answer and the CAS's, named after xet-core's own types
(`QueryReconstructionResponse`, `CASReconstructionTerm`, …) as spec/xet.md describes them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from hugbox.wire import WireModel


class XetConnectionInfo(WireModel):
    """`xet-read-token` / `xet-write-token`. huggingface_hub reads the same facts from the
    `X-Xet-*` headers into its `XetConnectionInfo`; hf_xet's own clients read this body."""

    casUrl: str
    accessToken: str
    exp: int


class UploadXorbResponse(WireModel):
    was_inserted: bool  # false: the CAS held it already


class UploadShardResponse(WireModel):
    result: int  # 0: held already, 1: registered (clients ignore which)


class ChunkRange(WireModel):
    """Chunk indices in a xorb, end exclusive."""

    start: int
    end: int


class HttpRange(WireModel):
    """Byte offsets in a stored xorb, end inclusive (sent back verbatim as the Range header)."""

    start: int
    end: int


class CASReconstructionTerm(WireModel):
    hash: str
    unpacked_length: int
    range: ChunkRange


class CASReconstructionFetchInfo(WireModel):
    range: ChunkRange
    url: str
    url_range: HttpRange


class QueryReconstructionResponse(WireModel):
    """`GET /v1/reconstructions/{file}`: the terms in order and where to fetch each xorb's."""

    offset_into_first_range: int
    terms: list[CASReconstructionTerm]
    fetch_info: dict[str, list[CASReconstructionFetchInfo]]


class XorbRangeDescriptor(WireModel):
    chunks: ChunkRange
    bytes_: HttpRange = Field(alias="bytes")


class XorbMultiRangeFetch(WireModel):
    url: str
    ranges: list[XorbRangeDescriptor]


class QueryReconstructionResponseV2(WireModel):
    """`GET /v2/reconstructions/{file}`: as v1, with one URL per xorb span (`xorbs`)."""

    offset_into_first_range: int
    terms: list[CASReconstructionTerm]
    xorbs: dict[str, list[XorbMultiRangeFetch]]


class CopyTarget(BaseModel):
    type: str = "model"
    name: str


class CopyFile(BaseModel):
    xet_hash: str = Field(alias="xetHash")
    sha256: str


class DuplicateLfsFilesRequest(BaseModel):
    """What `CommitOperationCopy` from another repo asks the source repo to share."""

    target: CopyTarget
    files: list[CopyFile]


class DuplicateFailure(WireModel):
    sha256: str
    error: str


class DuplicateLfsFilesResponse(WireModel):
    """`lfs-files/duplicate`: the files the target could not be given (huggingface_hub's
    `_duplicate_lfs_files` raises on any)."""

    failed: list[DuplicateFailure]
