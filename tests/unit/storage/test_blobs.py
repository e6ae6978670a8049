"""The local content-addressed blob store."""

import hashlib
import os
from pathlib import Path

import pytest

from hugbox.storage.blobs import BlobMismatch, LocalBlobStore


def test_write_then_read_by_sha256(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    writer = store.writer()
    writer.write(b"hello ")
    writer.write(b"world")
    oid = writer.commit()
    assert oid == hashlib.sha256(b"hello world").hexdigest()
    assert store.exists(oid) and store.size(oid) == 11
    with store.open(oid) as handle:
        assert handle.read() == b"hello world"


def test_wrong_hash_or_size_stores_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    for kwargs in ({"expected_oid": "0" * 64}, {"expected_size": 3}):
        writer = store.writer()
        writer.write(b"data")
        with pytest.raises(BlobMismatch):
            writer.commit(**kwargs)  # type: ignore[arg-type]
    assert not store.exists(hashlib.sha256(b"data").hexdigest())
    assert list(store.tmp_dir.iterdir()) == []


def test_identical_concurrent_uploads_keep_one_copy(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    first, second = store.writer(), store.writer()
    for writer in (first, second):
        writer.write(b"same")
    assert first.commit() == second.commit()
    assert list(store.tmp_dir.iterdir()) == []


def test_invalid_oids_are_refused(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    with pytest.raises(ValueError, match="sha256"):
        store.exists("../../etc/passwd")


def test_published_objects_survive_power_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bytes are synced before the rename, and each folder the name is added to after."""
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(str(Path(f"/proc/self/fd/{fd}").readlink()))
        real_fsync(fd)

    store = LocalBlobStore(tmp_path)
    writer = store.writer()
    writer.write(b"acknowledged")
    monkeypatch.setattr(os, "fsync", fsync)
    oid = writer.commit()
    first, second = tmp_path / oid[:2], tmp_path / oid[:2] / oid[2:4]
    assert synced[0].startswith(str(store.tmp_dir))  # the temp file, before its rename
    assert synced[1:] == [str(tmp_path), str(first), str(second)]
