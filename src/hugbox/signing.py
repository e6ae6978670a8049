"""The server secret, and the self-authenticating URLs it signs for LFS and Xet transfers."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path

from hugbox.errors import Forbidden


def load_secret(configured: str, data_dir: Path) -> bytes:
    """The configured key, else one generated once and kept in the data dir."""
    if configured:
        return configured.encode()
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


class UrlSigner:
    def __init__(self, secret: bytes, ttl_seconds: int = 24 * 3600):
        self._secret = secret
        self._ttl = ttl_seconds

    def _mac(self, message: str) -> str:
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def sign(self, *parts: object) -> dict[str, str]:
        expires = str(int(time.time()) + self._ttl)
        message = "\n".join([*map(str, parts), expires])
        return {"exp": expires, "sig": self._mac(message)}

    def check(self, *parts: object, exp: str, sig: str) -> None:
        message = "\n".join([*map(str, parts), exp])
        # Bytes: compare_digest refuses str holding anything but ASCII, and `sig` is the client's.
        mac, claimed = self._mac(message).encode(), sig.encode("utf-8", "replace")
        if not hmac.compare_digest(mac, claimed) or not _unexpired(exp):
            raise Forbidden("Invalid or expired signed URL: ask the LFS batch API for a new one")


def _unexpired(exp: str) -> bool:
    return exp.isascii() and exp.isdigit() and int(exp) >= time.time()
