"""Signed LFS transfer URLs."""

from pathlib import Path

import pytest

from hugbox.errors import Forbidden
from hugbox.signing import UrlSigner, load_secret


def test_signature_checks_every_part() -> None:
    signer = UrlSigner(b"k")
    signed = signer.sign("put", "oid", 10)
    signer.check("put", "oid", 10, **signed)
    with pytest.raises(Forbidden):
        signer.check("put", "oid", 11, **signed)
    with pytest.raises(Forbidden):
        UrlSigner(b"other").check("put", "oid", 10, **signed)


def test_expired_signature_is_refused() -> None:
    signer = UrlSigner(b"k", ttl_seconds=-1)
    with pytest.raises(Forbidden, match="expired"):
        signer.check("get", "oid", **signer.sign("get", "oid"))


def test_generated_secret_is_kept(tmp_path: Path) -> None:
    assert load_secret("", tmp_path) == load_secret("", tmp_path)
    assert load_secret("configured", tmp_path) == b"configured"
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
