"""What a request to a space brings: the hub credential it carries, and the headers its app
may see (never the user's hub credentials)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote

from starlette.types import Scope

from hugbox.spaces.proxy.relay import HOP_BY_HOP, Headers, connection_tokens

# Replaced by the proxy's own values: an app must not believe what a client claims.
_FORWARDED = frozenset(
    {b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-prefix", b"x-forwarded-for",
     b"x-forwarded-port", b"forwarded"}
)  # fmt: skip


@dataclass
class Inbound:
    token: str | None = None
    headers: Headers = field(default_factory=list)  # what the app may see
    host: bytes = b"localhost"  # the Host the client used


def read_inbound(scope: Scope, session_cookie: bytes, hub_cookies: frozenset[bytes]) -> Inbound:
    """The token from `x-hf-authorization: Bearer`, `Authorization: Bearer`, the session cookie
    or `?__sign=`, in that order; and the other headers, minus the hub's cookies."""
    inbound = Inbound()
    hf_token = bearer = cookie_token = None
    dropped = HOP_BY_HOP | _FORWARDED | connection_tokens(scope["headers"])
    for name, value in scope["headers"]:
        if name == b"x-hf-authorization":
            hf_token = _bearer(value)  # where gradio_client puts the hub token
        elif name == b"authorization" and (token := _bearer(value)) is not None:
            bearer = token  # a hub token; `Basic` stays: apps have their own logins
        elif name == b"cookie":
            found, value = _split_cookies(value, session_cookie, hub_cookies)
            cookie_token = found or cookie_token
            if value:
                inbound.headers.append((name, value))
        elif name not in dropped:
            inbound.headers.append((name, value))
            if name == b"host":
                inbound.host = value
    inbound.token = hf_token or bearer or cookie_token or _sign(scope["query_string"])
    return inbound


def forwarded_headers(scope: Scope, inbound: Inbound, prefix: str | None) -> Headers:
    """The app's headers plus what it needs to write its own public URLs (Gradio reads
    X-Forwarded-Host and X-Forwarded-Proto); `prefix` when the proxy stripped it."""
    headers = list(inbound.headers)
    # The scheme is the client's, or a trusted front proxy's (uvicorn --forwarded-allow-ips).
    proto = b"https" if scope.get("scheme") in ("https", "wss") else b"http"
    headers += [(b"x-forwarded-host", inbound.host), (b"x-forwarded-proto", proto)]
    if client := scope.get("client"):
        prior = header(scope, b"x-forwarded-for")
        chain = f"{prior}, {client[0]}" if prior else str(client[0])
        headers.append((b"x-forwarded-for", chain.encode("latin-1")))
    if prefix is not None:
        headers.append((b"x-forwarded-prefix", prefix.encode("latin-1")))
    return headers


def without_sign(query: bytes) -> bytes:
    """The query minus `__sign` (a credential), otherwise byte for byte as sent."""
    if b"__sign" not in query:
        return query
    return b"&".join(p for p in query.split(b"&") if p.partition(b"=")[0] != b"__sign")


def header(scope: Scope, wanted: bytes) -> str | None:
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == wanted:
            return value.decode("latin-1")
    return None


def _bearer(value: bytes) -> str | None:
    scheme, _, token = value.decode("latin-1").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _split_cookies(
    value: bytes, session: bytes, hub_cookies: frozenset[bytes]
) -> tuple[str | None, bytes]:
    """The session cookie's value, and the Cookie header without any of the hub's cookies."""
    token, kept = None, []
    for pair in value.split(b";"):
        name, _, cookie = pair.strip().partition(b"=")
        if name == session:
            token = cookie.decode("latin-1").strip('"') or None
        elif name and name not in hub_cookies:
            kept.append(pair.strip())
    return token, b"; ".join(kept)


def _sign(query: bytes) -> str | None:
    for pair in query.split(b"&"):
        if pair.startswith(b"__sign="):
            return unquote(pair[7:].decode("latin-1")) or None
    return None
