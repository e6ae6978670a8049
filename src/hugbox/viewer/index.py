"""The per-split SQLite index behind /search and /filter: an FTS5 full-text index over the
string columns, and a table of the scalar columns for filtering. Built in the background from
the parquet export, then opened read-only; rows themselves are read from the parquet."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hugbox.viewer.filter import Clause

BATCH_ROWS = 10_000


@dataclass(frozen=True)
class IndexColumns:
    """Which columns the index holds: `filterable` maps a name to its SQL identifier."""

    filterable: dict[str, str]
    searchable: list[str]


def _scalar(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_temporal(kind)
        or pa.types.is_decimal(kind)
    )


def _texty(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def index_columns(schema: pa.Schema) -> IndexColumns:
    filterable = {f.name: f'"c{i}"' for i, f in enumerate(schema) if _scalar(f.type)}
    searchable = [f.name for f in schema if _texty(f.type)]
    return IndexColumns(filterable, searchable)


def build(paths: Sequence[Path], dest: Path) -> None:
    """Write the index to `dest` atomically (a reader never sees half of one)."""
    schema = pq.ParquetFile(paths[0]).schema_arrow
    columns = index_columns(schema)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    connection = sqlite3.connect(tmp)
    try:
        _fill(connection, paths, schema, columns)
    finally:
        connection.close()
    tmp.replace(dest)


def _fill(
    connection: sqlite3.Connection, paths: Sequence[Path], schema: pa.Schema, cols: IndexColumns
) -> None:
    connection.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
    scalar_ids = list(cols.filterable.values())
    connection.execute(
        f"CREATE TABLE data (row_idx INTEGER PRIMARY KEY, {', '.join(scalar_ids) or 'unused'})"
    )
    fts_ids = [f"t{i}" for i in range(len(cols.searchable))]
    if fts_ids:
        connection.execute(
            f"CREATE VIRTUAL TABLE fts USING fts5({', '.join(fts_ids)}, content='', "
            "tokenize='porter unicode61 remove_diacritics 2')"
        )
    # Identifiers are ours (c0, t0...), never the dataset's column names; values are bound.
    marks = ", ".join(["?"] * (1 + max(1, len(scalar_ids))))
    insert_data = f"INSERT INTO data VALUES ({marks})"  # noqa: S608
    fts_marks = ", ".join(["?"] * (1 + len(fts_ids)))
    insert_fts = f"INSERT INTO fts (rowid, {', '.join(fts_ids)}) VALUES ({fts_marks})"  # noqa: S608
    row_idx = 0
    names = list(cols.filterable)
    with connection:
        for batch in _batches(
            paths, sorted(set(names) | set(cols.searchable), key=schema.names.index)
        ):
            count = batch.num_rows
            ids = range(row_idx, row_idx + count)
            values = [_sqlite_values(batch.column(n)) for n in names] or [[None] * count]
            connection.executemany(insert_data, zip(ids, *values, strict=True))
            if fts_ids:
                texts = [batch.column(n).to_pylist() for n in cols.searchable]
                connection.executemany(insert_fts, zip(ids, *texts, strict=True))
            row_idx += count
    # Range predicates and counts on numbers use an index (a count then reads the index, not
    # every row's text); strings are left unindexed (long texts would double the file).
    for number, (name, ident) in enumerate(cols.filterable.items()):
        if not _texty(schema.field(name).type):
            connection.execute(f"CREATE INDEX data_{number} ON data ({ident})")
    connection.execute("ANALYZE")


def _batches(paths: Sequence[Path], columns: list[str]) -> Iterator[pa.RecordBatch]:
    for path in paths:
        yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=columns)


def _sqlite_values(column: pa.Array) -> list[Any]:
    kind = column.type
    if pa.types.is_temporal(kind) or pa.types.is_decimal(kind):
        return [None if v is None else str(v) for v in column.to_pylist()]
    if pa.types.is_boolean(kind):
        return [None if v is None else int(v) for v in column.to_pylist()]
    return list(column.to_pylist())


@contextlib.contextmanager
def opened(path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    try:
        yield connection
    finally:
        connection.close()


def fts_query(text: str) -> str:
    """The words of a free-text query, each quoted (so none is FTS syntax), any of them."""
    words = [w for w in text.split() if w.strip('"')]
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def search(path: Path, query: str, offset: int, length: int) -> tuple[list[int], int]:
    """Row indexes matching `query`, best (BM25) first, and how many match."""
    match = fts_query(query)
    if not match:
        return [], 0
    with opened(path) as connection:
        if not _has_fts(connection):
            return [], 0
        total = connection.execute(
            "SELECT count(*) FROM fts WHERE fts MATCH ?", (match,)
        ).fetchone()[0]
        rows = connection.execute(
            "SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rank LIMIT ? OFFSET ?",
            (match, length, offset),
        ).fetchall()
    return [int(r[0]) for r in rows], int(total)


def _has_fts(connection: sqlite3.Connection) -> bool:
    found = connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'fts'").fetchone()
    return found is not None


def filter_rows(
    path: Path, where: Clause | None, orderby: Clause | None, offset: int, length: int
) -> tuple[list[int], int]:
    """Row indexes matching `where` in `orderby` order (row order by default), and the count."""
    condition = f" WHERE {where.sql}" if where else ""
    params = where.params if where else ()
    order = f"{orderby.sql}, row_idx" if orderby else "row_idx"
    # `where` and `orderby` come from filter.py: our column identifiers and `?` placeholders.
    count_sql = f"SELECT count(*) FROM data{condition}"  # noqa: S608
    page_sql = f"SELECT row_idx FROM data{condition} ORDER BY {order} LIMIT ? OFFSET ?"  # noqa: S608
    with opened(path) as connection:
        total = connection.execute(count_sql, params).fetchone()[0]
        rows = connection.execute(page_sql, (*params, length, offset)).fetchall()
    return [int(r[0]) for r in rows], int(total)
