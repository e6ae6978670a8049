"""Rows of a converted split, read from its parquet files: footers parsed once and kept, then a
page of rows costs one or two row-group decodes (spec A.3)."""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


class SplitReader:
    """The row groups of a split's files, addressable by global row index."""

    def __init__(self, paths: Sequence[Path]):
        self.files = [pq.ParquetFile(path, memory_map=True) for path in paths]
        self._groups: list[tuple[int, int]] = []  # (file index, row group index)
        self._starts: list[int] = []
        total = 0
        for file_index, file in enumerate(self.files):
            metadata = file.metadata
            for group in range(metadata.num_row_groups):
                self._groups.append((file_index, group))
                self._starts.append(total)
                total += metadata.row_group(group).num_rows
        self.num_rows = total
        self._lock = threading.Lock()  # ParquetFile reads are not thread-safe

    @property
    def schema(self) -> pa.Schema:
        return self.files[0].schema_arrow

    def read(self, offset: int, length: int) -> pa.Table:
        """Rows [offset, offset + length)."""
        end = min(self.num_rows, offset + length)
        if offset >= end:
            return self.schema.empty_table()
        first = bisect.bisect_right(self._starts, offset) - 1
        last = bisect.bisect_right(self._starts, end - 1) - 1
        tables = [self._group(i) for i in range(first, last + 1)]
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        return table.slice(offset - self._starts[first], end - offset)

    def take(self, indices: Sequence[int]) -> pa.Table:
        """The rows at `indices`, in that order."""
        if not indices:
            return self.schema.empty_table()
        by_group: dict[int, list[int]] = {}
        for index in indices:
            by_group.setdefault(bisect.bisect_right(self._starts, index) - 1, []).append(index)
        pieces: dict[int, pa.Table] = {}
        for group, wanted in by_group.items():
            table = self._group(group)
            local = pa.array([i - self._starts[group] for i in wanted], pa.int64())
            taken = table.take(local)
            for row, index in enumerate(wanted):
                pieces[index] = taken.slice(row, 1)
        return pa.concat_tables([pieces[i] for i in indices])

    def _group(self, index: int) -> pa.Table:
        file_index, group = self._groups[index]
        with self._lock:
            return self.files[file_index].read_row_group(group, use_threads=False)


class ReaderCache:
    """The last few split readers, keyed by their files (content ids never change)."""

    def __init__(self, size: int = 32):
        self._size = size
        self._items: OrderedDict[tuple[str, ...], SplitReader] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...], paths: Sequence[Path]) -> SplitReader:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        reader = SplitReader(paths)
        with self._lock:
            self._items[key] = reader
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return reader
