"""Conversion of a local dataset folder with the real `datasets` builders: row groups, the size
cap (partial), features kept in the parquet schema, and errors recorded per config."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from hugbox.viewer import convert
from hugbox.viewer.export import repo_path


def _csv(folder: Path, rows: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["text,n"] + [f"line {i} with a little text,{i}" for i in range(rows)]
    (folder / "train.csv").write_text("\n".join(lines) + "\n")


def test_small_row_groups_and_features(tmp_path: Path) -> None:
    _csv(tmp_path / "src", 30_000)
    export = convert.convert_config(tmp_path / "src", "default", tmp_path / "out", max_bytes=10**9)
    assert export.error is None and export.builder == "csv"
    [split] = export.splits
    assert (split.split, split.num_rows, split.partial) == ("train", 30_000, False)
    parquet = pq.ParquetFile(split.files[0])
    assert parquet.metadata.num_rows == 30_000
    assert parquet.metadata.num_row_groups > 1
    assert parquet.metadata.row_group(0).num_rows <= convert.MAX_ROW_GROUP
    stored = json.loads(parquet.schema_arrow.metadata[b"huggingface"])
    assert stored["info"]["features"]["n"] == {"dtype": "int64", "_type": "Value"}
    assert export.features["text"] == {"dtype": "string", "_type": "Value"}


def test_size_cap_makes_a_partial_export(tmp_path: Path) -> None:
    _csv(tmp_path / "src", 5000)
    export = convert.convert_config(tmp_path / "src", "default", tmp_path / "out", max_bytes=20_000)
    [split] = export.splits
    assert split.partial and 0 < split.num_rows < 5000
    assert pq.ParquetFile(split.files[0]).metadata.num_rows == split.num_rows
    assert (
        repo_path("default", "train", True, split.files[0]) == "default/partial-train/0000.parquet"
    )


def test_a_broken_config_is_an_error_not_an_exception(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.csv").write_text('a,b\n1,2\n3,"open\n4,5,6,7\n')
    export = convert.convert_config(tmp_path / "src", "default", tmp_path / "out", max_bytes=10**9)
    assert export.error is not None and export.error.code.startswith("Dataset")


def test_no_data_files(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "README.md").write_text("# nothing here\n")
    try:
        names = convert.config_names(tmp_path / "src")
    except convert.ConversionError as exc:
        assert exc.code in ("EmptyDatasetError", "ConfigNamesError")
    else:
        export = convert.convert_config(tmp_path / "src", names[0], tmp_path / "out", max_bytes=1)
        assert export.error is not None
