"""Dataset files at a commit → parquet per config and split, read with the `datasets` builders.

The files are checked out into a work dir (large files linked from the blob store), so the
builders see exactly what `load_dataset` would: README `configs`, else automatic splits.
"""

from __future__ import annotations

import gc
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hugbox.prefetch import Prefetch

TARGET_ROW_GROUP_BYTES = 256 * 1024  # a /rows page decodes one or two groups (spec A.3)
MIN_ROW_GROUP, MAX_ROW_GROUP, MEDIA_ROW_GROUP = 100, 10_000, 100
SHARD_BYTES = 500 * 1000**2
READ_BATCH = 10_000  # the csv and json builders' own chunk size
GROUPS_PER_WRITE = 64


class ConversionError(Exception):
    """Why a dataset or one config could not be converted, with HF's error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class SplitExport:
    split: str
    files: list[Path] = field(default_factory=list)
    num_rows: int = 0
    num_bytes_memory: int = 0
    partial: bool = False


@dataclass
class ConfigExport:
    config: str
    builder: str = ""
    features: dict[str, Any] = field(default_factory=dict)
    num_bytes_original: int = 0
    splits: list[SplitExport] = field(default_factory=list)
    error: ConversionError | None = None


def config_names(source: Path) -> list[str]:
    from datasets import get_dataset_config_names

    try:
        return list(get_dataset_config_names(str(source)))
    except Exception as exc:
        raise ConversionError(_code(exc, "ConfigNamesError"), _message(exc)) from exc


def convert_config(source: Path, config: str, out: Path, *, max_bytes: int) -> ConfigExport:
    """Every split of one config as `{out}/{config}/{split}/NNNN.parquet`; errors are recorded
    on the result, not raised, so one broken config leaves the others viewable."""
    export = ConfigExport(config)
    try:
        _convert_config(source, config, out, max_bytes, export)
    except ConversionError as exc:
        export.error = exc
    except Exception as exc:
        export.error = ConversionError(_code(exc, "DatasetGenerationError"), _message(exc))
    return export


def _convert_config(
    source: Path, config: str, out: Path, max_bytes: int, export: ConfigExport
) -> None:
    from datasets import load_dataset_builder

    builder = load_dataset_builder(str(source), config)
    export.builder = builder.name
    data_files = builder.config.data_files or {}
    if not data_files:
        raise ConversionError("EmptyDatasetError", "The dataset has no data files")
    for split, files in data_files.items():
        export.num_bytes_original += sum(_size(Path(str(f))) for f in files)
        stream = builder.as_streaming_dataset(split=str(split))
        folder = out / config / str(split)
        export.splits.append(_write_split(stream, str(split), folder, max_bytes, export))


def _write_split(
    stream: Any, split: str, folder: Path, max_bytes: int, export: ConfigExport
) -> SplitExport:
    result = SplitExport(split)
    features = stream.features
    batches = Prefetch(stream.with_format("arrow").iter(batch_size=READ_BATCH))
    try:
        writer = _write_batches(batches, result, folder, max_bytes, export, features)
    finally:
        batches.close()
        if result.partial:
            _collect_readers()
    if writer is None:
        raise ConversionError("EmptyDatasetError", f"The split {split!r} has no rows")
    result.files = writer.close()
    return result


def _write_batches(
    batches: Any,
    result: SplitExport,
    folder: Path,
    max_bytes: int,
    export: ConfigExport,
    features: Any,
) -> _ShardWriter | None:
    from datasets import Features
    from datasets.table import embed_table_storage, table_cast

    writer: _ShardWriter | None = None
    schema, media, inferred = None, False, features is None
    for batch in batches:
        if features is None:
            features = Features.from_arrow_schema(_narrow(batch.schema))
        if schema is None:
            schema, media = features.arrow_schema, _has_media(features)
        if inferred:  # plain types read from the data: pyarrow's cast is enough
            table = batch if batch.schema.equals(schema) else batch.cast(schema)
        else:  # declared features (class labels, images...): datasets' own casts
            table = table_cast(batch, schema)
        if media:
            table = embed_table_storage(table)  # images and audio keep their bytes
        if writer is None:
            export.features = features.to_dict()
            writer = _ShardWriter(
                folder, features, _row_group_rows(table, features), _dictionary_columns(table)
            )
        if result.num_bytes_memory + table.nbytes > max_bytes:
            table = table.slice(0, _rows_within(table, max_bytes - result.num_bytes_memory))
            result.partial = True
        writer.write(table)
        result.num_rows += table.num_rows
        result.num_bytes_memory += table.nbytes
        if result.partial:
            break
    return writer


def _collect_readers() -> None:
    """Reading stopped early (the size cap): the builder's open files are only reachable
    through reference cycles now; close them here rather than at some later collection."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def _rows_within(table: Any, budget: int) -> int:
    per_row = max(1, table.nbytes // max(1, table.num_rows))
    return int(max(0, min(table.num_rows, budget // per_row)))


def _dictionary_columns(table: Any) -> list[str]:
    """Columns worth dictionary encoding (repeated values, judged on the first batch). In small
    row groups a dictionary of unique values never overflows to plain: it only costs time."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = []
    for column_field, column in zip(table.schema, table.columns, strict=True):
        kind = column_field.type
        nested = pa.types.is_nested(kind) or pa.types.is_binary(kind)
        if not nested and pc.count_distinct(column).as_py() <= table.num_rows // 2:
            found.append(column_field.name)
    return found


def _has_media(features: Any) -> bool:
    from datasets.features.features import require_storage_embed

    return any(require_storage_embed(feature) for feature in features.values())


def _row_group_rows(table: Any, features: Any) -> int:
    if _has_media(features):
        return MEDIA_ROW_GROUP
    per_row = max(1, table.nbytes // max(1, table.num_rows))
    return int(max(MIN_ROW_GROUP, min(MAX_ROW_GROUP, TARGET_ROW_GROUP_BYTES // per_row)))


def _narrow(schema: Any) -> Any:
    """large_string → string and large_list → list, as HF's exports have them."""
    import pyarrow as pa

    def narrow(kind: Any) -> Any:
        if pa.types.is_large_string(kind):
            return pa.string()
        if pa.types.is_large_binary(kind):
            return pa.binary()
        if pa.types.is_large_list(kind) or pa.types.is_list(kind):
            return pa.list_(narrow(kind.value_type))
        if pa.types.is_struct(kind):
            return pa.struct([f.with_type(narrow(f.type)) for f in kind])
        return kind

    return pa.schema([f.with_type(narrow(f.type)) for f in schema], metadata=None)


class _ShardWriter:
    """Parquet files of small row groups with a page index; a new shard every SHARD_BYTES."""

    def __init__(self, folder: Path, features: Any, row_group_rows: int, dictionary: list[str]):
        self.folder = folder
        self.schema = features.arrow_schema.with_metadata(
            {"huggingface": json.dumps({"info": {"features": features.to_dict()}})}
        )
        self.row_group_rows = row_group_rows
        self.dictionary = dictionary
        self.files: list[Path] = []
        self._writer: Any = None
        self._bytes = 0
        self._pending: list[Any] = []
        self._pending_rows = 0
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, table: Any) -> None:
        self._pending.append(table)
        self._pending_rows += table.num_rows
        # Many row groups per write call: pyarrow splits them, each call has a fixed cost.
        if self._pending_rows >= self.row_group_rows * GROUPS_PER_WRITE:
            self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        import pyarrow as pa

        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        whole = table.num_rows if final else table.num_rows - table.num_rows % self.row_group_rows
        self._pending = [table.slice(whole)] if whole < table.num_rows else []
        self._pending_rows = table.num_rows - whole
        if whole:
            self._write_groups(table.slice(0, whole))

    def _write_groups(self, table: Any) -> None:
        import pyarrow.parquet as pq

        if self._writer is None or self._bytes >= SHARD_BYTES:
            self._close_shard()
            path = self.folder / f"{len(self.files):04d}.parquet"
            self.files.append(path)
            self._writer = pq.ParquetWriter(
                path,
                self.schema,
                compression="zstd",
                write_page_index=True,
                use_dictionary=self.dictionary,
            )
        table = table.replace_schema_metadata(self.schema.metadata)
        self._writer.write_table(table, row_group_size=self.row_group_rows)
        self._bytes += table.nbytes

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer, self._bytes = None, 0

    def close(self) -> list[Path]:
        self._flush(final=True)
        self._close_shard()
        return self.files


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _code(exc: Exception, default: str) -> str:
    name = type(exc).__name__
    known = {
        "DatasetGenerationCastError",
        "DatasetGenerationError",
        "EmptyDatasetError",
        "DataFilesNotFoundError",
        "FileFormatMismatchBetweenSplitsError",
    }
    if name == "DataFilesNotFoundError":
        return "EmptyDatasetError"
    return name if name in known else default


def _message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return text[:2000]
