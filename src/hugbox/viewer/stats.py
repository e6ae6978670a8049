"""Per-column statistics of a split (HF's /statistics shapes): numbers get min/max/mean/median/
std and a 10-bin histogram; strings are labels (frequencies) or text (length statistics)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BINS = 10
MAX_LABELS = 1000


def statistics(paths: Sequence[Path], features: dict[str, Any]) -> list[dict[str, Any]]:
    schema = pq.ParquetFile(paths[0]).schema_arrow
    found = []
    for field in schema:
        name = field.name
        if pa.types.is_struct(field.type) or pa.types.is_binary(field.type):
            continue  # images, audio, nested records: no statistics (read one column at a time)
        chunks = [c for p in paths for c in pq.read_table(p, columns=[name]).column(0).chunks]
        column = pa.chunked_array(chunks, type=field.type)
        computed = _column(column, features.get(name, {}))
        if computed is not None:
            kind, values = computed
            found.append({"column_name": name, "column_type": kind, "column_statistics": values})
    return found


def _column(column: pa.ChunkedArray, feature: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    kind = column.type
    if feature.get("_type") == "ClassLabel":
        return "class_label", _labels(column, feature.get("names"))
    if pa.types.is_boolean(kind):
        return "bool", {**_nulls(column), "frequencies": _frequencies(column)}
    if pa.types.is_integer(kind):
        return "int", _numbers(column, integer=True)
    if pa.types.is_floating(kind):
        return "float", _numbers(column, integer=False)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _strings(column)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return "list", _numbers(pc.list_value_length(column), integer=True)
    return None


def _nulls(column: pa.ChunkedArray) -> dict[str, Any]:
    count = column.null_count
    return {"nan_count": count, "nan_proportion": round(count / max(1, len(column)), 5)}


def _numbers(column: pa.ChunkedArray | pa.Array, *, integer: bool) -> dict[str, Any]:
    nulls = _nulls(column)
    values = pc.drop_null(column)
    if pa.types.is_floating(values.type):
        values = pc.filter(values, pc.invert(pc.is_nan(values)))
    if len(values) == 0:
        return {
            **nulls,
            "min": None,
            "max": None,
            "mean": None,
            "median": None,
            "std": None,
            "histogram": None,
        }
    low, high = pc.min(values).as_py(), pc.max(values).as_py()
    median = pc.quantile(values, q=0.5, interpolation="midpoint")[0].as_py()
    std = pc.stddev(values, ddof=1).as_py()
    return {
        **nulls,
        "min": low,
        "max": high,
        "mean": _round(pc.mean(values).as_py()),
        "median": _round(median),
        "std": _round(std) if std is not None and not math.isnan(std) else None,
        "histogram": _histogram(values, low, high, integer=integer),
    }


def _histogram(values: Any, low: float, high: float, *, integer: bool) -> dict[str, Any]:
    if low == high:
        return {"hist": [len(values)], "bin_edges": [low, high]}
    bins = min(BINS, int(high - low) + 1) if integer else BINS
    width = (high - low) / bins
    if integer:
        width = math.ceil((high - low + 1) / bins)
        bins = math.ceil((high - low + 1) / width)
    edges = [low + i * width for i in range(bins)] + [high]
    floats = pc.cast(values, pa.float64())
    index = pc.min_element_wise(
        pc.floor(pc.divide(pc.subtract(floats, float(low)), float(width))), float(bins - 1)
    )
    counts = pc.value_counts(pc.cast(index, pa.int64())).to_pylist()
    hist = [0] * bins
    for item in counts:
        hist[int(item["values"])] = int(item["counts"])
    shown = edges if integer else [_round(e) for e in edges]
    return {"hist": hist, "bin_edges": shown}


def _frequencies(column: Any) -> dict[str, int]:
    counts = pc.value_counts(pc.drop_null(column)).to_pylist()
    ordered = sorted(counts, key=lambda c: -int(c["counts"]))
    return {str(c["values"]): int(c["counts"]) for c in ordered}


def _labels(column: pa.ChunkedArray, names: list[str] | None) -> dict[str, Any]:
    frequencies = _frequencies(column)
    if names:
        frequencies = {
            names[int(k)] if 0 <= int(k) < len(names) else k: v for k, v in frequencies.items()
        }
    return {**_nulls(column), "n_unique": len(frequencies), "frequencies": frequencies}


def _strings(column: pa.ChunkedArray) -> tuple[str, dict[str, Any]]:
    unique = pc.count_distinct(column).as_py()
    total = len(column) - column.null_count
    if unique <= 10 or (unique < MAX_LABELS and unique / max(1, total) <= 0.2):
        frequencies = _frequencies(column)
        stats = {
            **_nulls(column),
            "no_label_count": 0,
            "no_label_proportion": 0.0,
            "n_unique": unique,
            "frequencies": frequencies,
        }
        return "string_label", stats
    return "string_text", _numbers(pc.utf8_length(column), integer=True)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 5)
