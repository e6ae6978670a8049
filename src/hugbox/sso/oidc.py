"""The relying party's half of OpenID Connect's authorization code flow, with PKCE: discovery,
the authorization URL, the code exchange and the ID token's checks. No HTTP framework here: the
pages call these and turn `SsoFailed` into a 4xx.

joserfc verifies the ID token's signature against the provider's JWKS and checks its claims;
httpx talks to the provider (discovery, JWKS and the token endpoint, each with a short timeout).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from hugbox.errors import HubError

TIMEOUT_S = 10.0
# What a provider may sign ID tokens with; "none" and HMAC (keyed by the client secret) are
# refused: the signature must be checkable against the provider's published keys.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]
LEEWAY_S = 60  # clocks of the hub and the provider may differ this much


class SsoFailed(HubError):
    """A sign-in the provider or its answer did not allow: a clear 4xx, never a 500."""

    status_code = 400
    error_code = "SsoFailed"
    default_message = "Single sign-on failed"


@dataclass(frozen=True)
class Provider:
    """The endpoints discovery names."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class Challenge:
    """What a sign-in keeps between the redirect to the provider and the callback."""

    state: str
    nonce: str
    code_verifier: str

    @property
    def code_challenge(self) -> str:
        digest = hashlib.sha256(self.code_verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_challenge() -> Challenge:
    return Challenge(
        secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    )


def _get_json(client: httpx.Client, url: str, what: str) -> dict[str, Any]:
    try:
        response = client.get(url)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SsoFailed(f"Could not read the provider's {what} at {url}: {exc}") from exc
    if not isinstance(body, dict):
        raise SsoFailed(f"The provider's {what} at {url} is not a JSON object")
    return body


def discover(client: httpx.Client, issuer: str) -> Provider:
    """The provider's endpoints from `{issuer}/.well-known/openid-configuration`; its `issuer`
    must be the configured one exactly (OIDC Discovery §4.3)."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    meta = _get_json(client, url, "discovery document")
    if meta.get("issuer") != issuer:
        raise SsoFailed(f"The provider says its issuer is {meta.get('issuer')!r}, not {issuer!r}")
    try:
        return Provider(
            issuer, meta["authorization_endpoint"], meta["token_endpoint"], meta["jwks_uri"]
        )
    except KeyError as exc:
        raise SsoFailed(f"The provider's discovery document lacks {exc}") from exc


def authorization_url(
    provider: Provider, *, client_id: str, redirect_uri: str, challenge: Challenge
) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid profile email",
        "state": challenge.state,
        "nonce": challenge.nonce,
        "code_challenge": challenge.code_challenge,
        "code_challenge_method": "S256",
    }
    separator = "&" if "?" in provider.authorization_endpoint else "?"
    return f"{provider.authorization_endpoint}{separator}{urlencode(query)}"


def exchange_code(
    client: httpx.Client, provider: Provider, *, code: str, redirect_uri: str,
    client_id: str, client_secret: str, code_verifier: str,
) -> str:  # fmt: skip
    """The ID token the token endpoint gives for `code` (client_secret_basic)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": code_verifier}  # fmt: skip
    try:
        response = client.post(provider.token_endpoint, data=form, auth=(client_id, client_secret))
    except httpx.HTTPError as exc:
        raise SsoFailed(f"Could not reach the provider's token endpoint: {exc}") from exc
    if response.status_code != 200:
        raise SsoFailed(
            f"The provider refused the code ({response.status_code}): {response.text[:200]}"
        )
    id_token = response.json().get("id_token")
    if not isinstance(id_token, str):
        raise SsoFailed("The provider's token response has no id_token")
    return id_token


def verify_id_token(
    client: httpx.Client, provider: Provider, id_token: str, *, client_id: str, nonce: str
) -> dict[str, Any]:
    """The ID token's claims, once its signature holds against the provider's JWKS and its
    `iss`, `aud`, `exp` and `nonce` are the ones this sign-in expects."""
    keys = KeySet.import_key_set(_get_json(client, provider.jwks_uri, "JWKS"))  # type: ignore[arg-type]
    try:
        token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
        registry = jwt.JWTClaimsRegistry(
            now=int(time.time()), leeway=LEEWAY_S,
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": client_id},
            exp={"essential": True}, sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        )  # fmt: skip
        registry.validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise SsoFailed(f"The ID token was refused: {exc}") from exc
    return token.claims
