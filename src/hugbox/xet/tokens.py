"""Xet access tokens: HMAC-signed, short-lived, naming one repo and read or write access."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass

from hugbox.errors import InvalidCredentials

TOKEN_TTL = 3600
_PREFIX = "xet1."


@dataclass(frozen=True)
class XetToken:
    repo_pk: int
    write: bool
    domain: int  # the repo owner's account id: dedup answers stay inside it
    user_id: int | None
    pr_only: bool  # issued with `create_pr` to someone who may only open pull requests
    exp: int


def _mac(secret: bytes, payload: bytes) -> str:
    return hmac.new(secret, b"xet-token\n" + payload, hashlib.sha256).hexdigest()


def encode(secret: bytes, token: XetToken) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(asdict(token)).encode()).decode()
    return f"{_PREFIX}{payload}.{_mac(secret, payload.encode())}"


def decode(secret: bytes, text: str) -> XetToken:
    """The token in `text`, if its signature holds and it has not expired; else 401."""
    payload, _, sig = text.removeprefix(_PREFIX).partition(".")
    valid = text.startswith(_PREFIX) and text.isascii()
    if not valid or not hmac.compare_digest(_mac(secret, payload.encode()), sig):
        raise InvalidCredentials("Invalid Xet access token")
    token = XetToken(**json.loads(base64.urlsafe_b64decode(payload)))
    if token.exp < time.time():
        raise InvalidCredentials("Expired Xet access token: ask the hub for a new one")
    return token


def new_token(
    *, repo_pk: int, domain: int, user_id: int | None, write: bool, pr_only: bool
) -> XetToken:
    return XetToken(repo_pk, write, domain, user_id, pr_only, int(time.time()) + TOKEN_TTL)
