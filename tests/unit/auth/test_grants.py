"""Read grants: signed, expiring, and covering one repo at one commit only."""

from __future__ import annotations

import pytest

from hugbox.auth import grants
from hugbox.errors import InvalidCredentials

SECRET = b"s" * 32
SHA = "a" * 40


def test_a_grant_reads_back_and_covers_its_repo_at_its_commit_only() -> None:
    token = grants.mint(SECRET, repo_type="model", repo_id="Org/Model", revision=SHA)
    assert grants.is_grant(token) and not grants.is_grant("hf_abc") and not grants.is_grant(None)
    grant = grants.read(SECRET, token)
    assert grant.covers("model", "org/model", SHA)  # repo ids are case-insensitive
    assert not grant.covers("model", "org/model", "main")
    assert not grant.covers("model", "org/model", None)
    assert not grant.covers("dataset", "org/model", SHA)
    assert not grant.covers("model", "org/other", SHA)


def test_tampered_foreign_or_expired_grants_are_refused() -> None:
    token = grants.mint(SECRET, repo_type="model", repo_id="org/model", revision=SHA)
    forged = grants.mint(b"other" * 8, repo_type="model", repo_id="org/model", revision=SHA)
    expired = grants.mint(SECRET, repo_type="model", repo_id="org/model", revision=SHA, ttl_s=-1)
    tampered = token[:-1] + ("1" if token[-1] == "0" else "0")
    for bad in (tampered, forged, expired, grants.PREFIX, token + "é"):
        with pytest.raises(InvalidCredentials):
            grants.read(SECRET, bad)
