"""Client secrets at rest: encrypted with a key derived from the server secret, so a copy of the
database alone does not hand out the org's OIDC client."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from hugbox.errors import HubError


class SecretUnreadable(HubError):
    status_code = 409
    error_code = "SsoSecretUnreadable"
    default_message = "The SSO client secret was sealed with another server secret: set it again"


def _fernet(server_secret: bytes) -> Fernet:
    key = hashlib.sha256(b"hugbox sso client secret\n" + server_secret).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(server_secret: bytes, plain: str) -> str:
    return _fernet(server_secret).encrypt(plain.encode()).decode()


def unseal(server_secret: bytes, sealed: str) -> str:
    try:
        return _fernet(server_secret).decrypt(sealed.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable() from exc
