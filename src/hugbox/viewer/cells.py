"""Rows as the viewer API shows them: JSON-safe cells, images and audio as asset URLs."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

AssetUrl = Callable[[int, str, str], str]  # (row_idx, column, file name) → URL


def features_list(features: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"feature_idx": i, "name": name, "type": kind}
        for i, (name, kind) in enumerate(features.items())
    ]


def render_rows(
    table: pa.Table, row_indexes: list[int], features: dict[str, Any], asset_url: AssetUrl
) -> list[dict[str, Any]]:
    rows = []
    for row_idx, row in zip(row_indexes, table.to_pylist(), strict=True):
        cells = {
            name: _cell(value, features.get(name, {}), row_idx, name, asset_url)
            for name, value in row.items()
        }
        rows.append({"row_idx": row_idx, "row": cells, "truncated_cells": []})
    return rows


def _cell(value: Any, feature: Any, row_idx: int, column: str, asset_url: AssetUrl) -> Any:
    kind = feature.get("_type") if isinstance(feature, dict) else None
    if kind == "Image" and isinstance(value, dict):
        return _image(value, row_idx, column, asset_url)
    if kind == "Audio" and isinstance(value, dict):
        name = _file_name(value, "audio.wav")
        return [{"src": asset_url(row_idx, column, name), "type": _audio_type(name)}]
    return json_safe(value)


def _image(value: dict[str, Any], row_idx: int, column: str, asset_url: AssetUrl) -> Any:
    if value.get("bytes") is None:
        return None
    width = height = None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(value["bytes"])) as image:
            width, height = image.size
    except Exception:  # not decodable: still linked, without a size
        width = height = None
    name = _file_name(value, "image.jpg")
    return {"src": asset_url(row_idx, column, name), "height": height, "width": width}


def _file_name(value: dict[str, Any], default: str) -> str:
    path = value.get("path") or ""
    name = str(path).rsplit("/", 1)[-1]
    return name if name and "." in name else default


def _audio_type(name: str) -> str:
    extension = name.rsplit(".", 1)[-1].lower()
    return {"mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg"}.get(
        extension, "audio/wav"
    )


def json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    return value


def asset_bytes(value: Any) -> bytes | None:
    """The stored bytes of an image or audio cell."""
    if isinstance(value, dict) and isinstance(value.get("bytes"), bytes):
        return bytes(value["bytes"])
    return None
