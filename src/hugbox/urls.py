"""Absolute URLs in bodies and headers use the origin the client used (spec §0.1)."""

from __future__ import annotations

from starlette.requests import Request


def base_url(request: Request) -> str:
    """The configured public URL, else the scheme, host and port of this request."""
    public_url: str | None = request.app.state.settings.public_url
    if public_url:
        return public_url.rstrip("/")
    return str(request.base_url).rstrip("/")
