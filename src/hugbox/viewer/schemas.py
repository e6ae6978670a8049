"""The dataset viewer's JSON shapes, named after datasets-server's own (`IsValidResponse`,
`SplitsResponse`, `PaginatedResponse`, …). Cells, features and statistics hold the dataset's
own data, so they stay open."""

from __future__ import annotations

from typing import Any

from hugbox.wire import WireModel


class ViewerErrorItem(WireModel):
    error_code: str
    message: str


class IsValidResponse(WireModel):
    preview: bool
    viewer: bool
    search: bool
    filter: bool
    statistics: bool
    error: ViewerErrorItem | None = None  # why none is, when the dataset cannot be shown


class ConfigError(WireModel):
    code: str
    message: str


class ConfigItem(WireModel):
    dataset: str
    config: str


class FailedConfigItem(ConfigItem):
    error: ConfigError


class FullSplitItem(ConfigItem):
    split: str


class SplitsResponse(WireModel):
    splits: list[FullSplitItem]
    pending: list[ConfigItem]
    failed: list[FailedConfigItem]


class FeatureItem(WireModel):
    feature_idx: int
    name: str
    type: dict[str, Any] | list[Any]  # the column's `datasets` feature, as Features.to_dict()


class RowItem(WireModel):
    row_idx: int
    row: dict[str, Any]  # cells; images and audio as asset URLs
    truncated_cells: list[str]


class FirstRowsResponse(WireModel):
    dataset: str
    config: str
    split: str
    features: list[FeatureItem]
    rows: list[RowItem]
    truncated: bool


class PaginatedResponse(WireModel):
    """`/rows`, `/search` and `/filter`."""

    features: list[FeatureItem]
    rows: list[RowItem]
    num_rows_total: int
    num_rows_per_page: int
    partial: bool


class SplitHubFile(WireModel):
    dataset: str
    config: str
    split: str
    url: str
    filename: str
    size: int


class ParquetResponse(WireModel):
    parquet_files: list[SplitHubFile]
    pending: list[ConfigItem]
    failed: list[FailedConfigItem]
    partial: bool


class SplitInfo(WireModel):
    name: str
    num_bytes: int
    num_examples: int
    dataset_name: str


class Version(WireModel):
    version_str: str
    major: int
    minor: int
    patch: int


class ConfigInfo(WireModel):
    """A config's `datasets.DatasetInfo`, as `datasets` reads it back."""

    description: str
    citation: str
    homepage: str
    license: str
    features: dict[str, Any]
    builder_name: str | None
    dataset_name: str
    config_name: str
    version: Version
    splits: dict[str, SplitInfo]
    download_size: int
    dataset_size: int


class InfoResponse(WireModel):
    """One config's info (`config=`), or every config's, by name."""

    dataset_info: ConfigInfo | dict[str, ConfigInfo]
    pending: list[ConfigItem] | None = None
    failed: list[FailedConfigItem] | None = None
    partial: bool


class SizeTotals(WireModel):
    num_bytes_parquet_files: int
    num_bytes_memory: int
    num_rows: int


class DatasetSize(SizeTotals):
    dataset: str
    num_bytes_original_files: int


class ConfigSize(DatasetSize):
    config: str
    num_columns: int


class SplitSize(SizeTotals):
    dataset: str
    config: str
    split: str
    num_columns: int


class DatasetSizeContent(WireModel):
    dataset: DatasetSize
    configs: list[ConfigSize]
    splits: list[SplitSize]


class ConfigSizeContent(WireModel):
    config: ConfigSize
    splits: list[SplitSize]


class SizeResponse(WireModel):
    size: DatasetSizeContent | ConfigSizeContent
    pending: list[ConfigItem]
    failed: list[FailedConfigItem]
    partial: bool


class StatisticsPerColumnItem(WireModel):
    column_name: str
    column_type: str
    column_statistics: dict[str, Any]  # by type: nan counts, min/max/…/histogram, frequencies


class StatisticsResponse(WireModel):
    num_examples: int
    statistics: list[StatisticsPerColumnItem]
    partial: bool
