"""Xet access tokens: signed, expiring, and nothing else is accepted."""

from __future__ import annotations

import dataclasses

import pytest

from hugbox.errors import InvalidCredentials
from hugbox.xet import tokens

SECRET = b"s" * 32


def test_a_token_decodes_to_what_was_issued() -> None:
    token = tokens.new_token(repo_pk=3, domain=7, user_id=1, write=True, pr_only=False)
    assert tokens.decode(SECRET, tokens.encode(SECRET, token)) == token


def test_tampered_foreign_or_expired_tokens_are_refused() -> None:
    token = tokens.new_token(repo_pk=3, domain=7, user_id=1, write=False, pr_only=False)
    text = tokens.encode(SECRET, token)
    forged = tokens.encode(b"other" * 8, dataclasses.replace(token, write=True))
    expired = tokens.encode(SECRET, dataclasses.replace(token, exp=1))
    tampered = text[:-1] + ("1" if text[-1] == "0" else "0")
    for bad in (tampered, forged, expired, "", "hf_token", text + "é"):
        with pytest.raises(InvalidCredentials):
            tokens.decode(SECRET, bad)
