"""Cursor pagination with GitHub-style `Link: <absolute next URL>; rel="next"` headers."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import TypeVar
from urllib.parse import quote

from fastapi import Request, Response

from hugbox.errors import BadRequest
from hugbox.urls import base_url

T = TypeVar("T")
MAX_OFFSET = 2**31  # far past any listing, far below what a 64-bit SQL offset holds


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = max(0, int(base64.urlsafe_b64decode(cursor.encode()).decode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("Invalid cursor: pass back the `cursor` of a Link header as is") from exc
    if offset > MAX_OFFSET:  # SQL offsets are 64-bit: a forged one would overflow the query
        raise BadRequest("Invalid cursor: pass back the `cursor` of a Link header as is")
    return offset


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def paginate(
    request: Request, response: Response, items: Sequence[T], *, offset: int, page_size: int
) -> list[T]:
    """Cut one page out of `items` (which may hold one extra item to tell if more follow)."""
    page = list(items[:page_size])
    if len(items) > page_size:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
        params.append(("cursor", encode_cursor(offset + page_size)))
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params)
        url = f"{base_url(request)}{request.url.path}?{query}"
        response.headers["Link"] = f'<{url}>; rel="next"'
    return page
