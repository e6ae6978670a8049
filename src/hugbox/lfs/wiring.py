"""What git-lfs's batch API adds to a hub process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hugbox.context import Context
from hugbox.lfs import api
from hugbox.lfs.streams import PartStreams
from hugbox.wiring import Wiring

if TYPE_CHECKING:
    from hugbox.storage.s3_parts import S3PartUploads


def install(wiring: Wiring, context: Context) -> None:
    wiring.api.append(api.router)
    wiring.state["lfs_streams"] = PartStreams()  # multipart parts streamed on to a bucket
    wiring.state["lfs_direct"] = _direct_uploads(context)  # parts straight to the bucket


def _direct_uploads(context: Context) -> S3PartUploads | None:
    settings = context.settings
    if not (settings.blob_url and settings.blob_direct_uploads):
        return None
    from hugbox.storage.s3 import S3BlobStore  # obstore and boto3 load only for a bucket
    from hugbox.storage.s3_parts import open_part_uploads

    plain = context.blobs.plain
    return open_part_uploads(plain) if isinstance(plain, S3BlobStore) else None
