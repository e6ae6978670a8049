"""The dataset viewer: parquet export, splits, rows, search, filter and statistics."""
