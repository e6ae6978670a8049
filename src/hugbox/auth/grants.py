"""Read grants: short-lived service tokens that read one repo at one commit, and nothing else.

The hub mints one for each model it asks a remote inference fleet (Ray Serve) to load; the
fleet downloads the snapshot with it as any Hugging Face client would, so its nodes need no
access to the hub's disks, object store or users' tokens. A grant is an HMAC over its fields
with the server secret: nothing is stored, a leaked grant expires on its own, and it can never
write, list, or read another repo or revision.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass

from hugbox.errors import InvalidCredentials

PREFIX = "hf_grant1."  # "hf_": clients that check a token's shape take it as a token
TTL_S = 3600


@dataclass(frozen=True)
class ReadGrant:
    repo_type: str  # "model", "dataset" or "space"
    repo_id: str
    revision: str  # a commit id: the grant reads that snapshot only
    exp: int

    def covers(self, repo_type: str, repo_id: str, revision: str | None) -> bool:
        return (
            repo_type == self.repo_type
            and repo_id.lower() == self.repo_id.lower()
            and revision == self.revision
        )


def _mac(secret: bytes, payload: bytes) -> str:
    return hmac.new(secret, b"read-grant\n" + payload, hashlib.sha256).hexdigest()


def mint(secret: bytes, *, repo_type: str, repo_id: str, revision: str, ttl_s: int = TTL_S) -> str:
    grant = ReadGrant(repo_type, repo_id, revision, int(time.time()) + ttl_s)
    payload = base64.urlsafe_b64encode(json.dumps(asdict(grant)).encode()).decode()
    return f"{PREFIX}{payload}.{_mac(secret, payload.encode())}"


def is_grant(token: str | None) -> bool:
    return token is not None and token.startswith(PREFIX)


def read(secret: bytes, token: str) -> ReadGrant:
    """The grant `token` stands for, if its signature holds and it has not expired; else 401."""
    payload, _, sig = token.removeprefix(PREFIX).partition(".")
    mac = _mac(secret, payload.encode()).encode()
    if not token.isascii() or not hmac.compare_digest(mac, sig.encode()):
        raise InvalidCredentials()
    grant = ReadGrant(**json.loads(base64.urlsafe_b64decode(payload)))
    if grant.exp < time.time():
        raise InvalidCredentials("Expired service token: the hub mints a new one per load")
    return grant
