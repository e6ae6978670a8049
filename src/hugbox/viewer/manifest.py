"""Reading the export manifest (configs, splits, files, sizes, statistics) into HF's answers
for /parquet, /info, /size and /statistics. Pure functions of one `ViewerExport`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hugbox.repos.models import Repo
from hugbox.viewer.errors import ResponseNotFound, StoredError
from hugbox.viewer.models import PARQUET_REF, ViewerExport


def configs(export: ViewerExport) -> list[dict[str, Any]]:
    return list(export.content.get("configs", []))


def find_config(export: ViewerExport, config: str) -> dict[str, Any]:
    for entry in configs(export):
        if entry["config"] == config:
            if entry.get("error"):
                raise StoredError(entry["error"]["code"], entry["error"]["message"])
            return entry
    raise ResponseNotFound(f"Not found: config {config!r}")


def find_split(export: ViewerExport, config: str, split: str) -> dict[str, Any]:
    for entry in find_config(export, config)["splits"]:
        if entry["split"] == split:
            return dict(entry)
    raise ResponseNotFound(f"Not found: split {split!r} in config {config!r}")


def ok_configs(export: ViewerExport, config: str | None) -> list[dict[str, Any]]:
    if config is not None:
        return [find_config(export, config)]
    return [c for c in configs(export) if not c.get("error")]


def failed(export: ViewerExport, dataset: str, config: str | None) -> list[dict[str, Any]]:
    if config is not None:
        return []
    return [
        {"dataset": dataset, "config": c["config"], "error": c["error"]}
        for c in configs(export)
        if c.get("error")
    ]


def parquet_files(
    export: ViewerExport, repo: Repo, config: str | None, base_url: str
) -> dict[str, Any]:
    listed = []
    for entry in ok_configs(export, config):
        for split in entry["splits"]:
            for file in split["files"]:
                url = (
                    f"{base_url}/datasets/{repo.repo_id}/resolve/"
                    f"{quote(PARQUET_REF, safe='')}/{file['path']}"
                )
                listed.append(
                    {
                        "dataset": repo.repo_id,
                        "config": entry["config"],
                        "split": split["split"],
                        "url": url,
                        "filename": file["path"].rsplit("/", 1)[-1],
                        "size": file["size"],
                    }
                )
    return {
        "parquet_files": listed,
        "pending": [],
        "failed": failed(export, repo.repo_id, config),
        "partial": _partial(export, config),
    }


def _partial(export: ViewerExport, config: str | None) -> bool:
    return any(s.get("partial") for c in ok_configs(export, config) for s in c["splits"])


def dataset_info(entry: dict[str, Any], repo: Repo) -> dict[str, Any]:
    """A config's `DatasetInfo` as a dict, as `datasets` reads it back (spec A.2)."""
    splits = {
        s["split"]: {
            "name": s["split"],
            "num_bytes": s["num_bytes_memory"],
            "num_examples": s["num_rows"],
            "dataset_name": repo.name,
        }
        for s in entry["splits"]
    }
    return {
        "description": "",
        "citation": "",
        "homepage": "",
        "license": "",
        "features": entry["features"],
        "builder_name": entry["builder"],
        "dataset_name": repo.name,
        "config_name": entry["config"],
        "version": {"version_str": "0.0.0", "major": 0, "minor": 0, "patch": 0},
        "splits": splits,
        "download_size": entry["num_bytes_original"],
        "dataset_size": sum(s["num_bytes_memory"] for s in entry["splits"]),
    }


def info(export: ViewerExport, repo: Repo, config: str | None) -> dict[str, Any]:
    entries = ok_configs(export, config)
    if config is not None:
        return {"dataset_info": dataset_info(entries[0], repo), "partial": _partial(export, config)}
    return {
        "dataset_info": {c["config"]: dataset_info(c, repo) for c in entries},
        "pending": [],
        "failed": failed(export, repo.repo_id, None),
        "partial": _partial(export, None),
    }


def size(export: ViewerExport, repo: Repo, config: str | None) -> dict[str, Any]:
    entries = ok_configs(export, config)
    split_sizes = [
        {
            "dataset": repo.repo_id,
            "config": c["config"],
            "split": s["split"],
            "num_bytes_parquet_files": sum(f["size"] for f in s["files"]),
            "num_bytes_memory": s["num_bytes_memory"],
            "num_rows": s["num_rows"],
            "num_columns": len(c["features"]),
        }
        for c in entries
        for s in c["splits"]
    ]
    config_sizes = [
        {
            "dataset": repo.repo_id,
            "config": c["config"],
            "num_bytes_original_files": c["num_bytes_original"],
            **_sums([s for s in split_sizes if s["config"] == c["config"]]),
            "num_columns": len(c["features"]),
        }
        for c in entries
    ]
    total = {
        "dataset": repo.repo_id,
        "num_bytes_original_files": sum(c["num_bytes_original"] for c in entries),
        **_sums(split_sizes),
    }
    body: dict[str, Any] = {"splits": split_sizes, "configs": config_sizes}
    if config is None:
        body = {"dataset": total, **body}
    else:
        body = {"config": config_sizes[0], "splits": split_sizes}
    return {
        "size": body,
        "pending": [],
        "failed": failed(export, repo.repo_id, config),
        "partial": _partial(export, config),
    }


def _sums(split_sizes: list[dict[str, Any]]) -> dict[str, int]:
    keys = ("num_bytes_parquet_files", "num_bytes_memory", "num_rows")
    return {k: sum(s[k] for s in split_sizes) for k in keys}


def statistics(export: ViewerExport, config: str, split: str) -> dict[str, Any]:
    entry = find_split(export, config, split)
    return {
        "num_examples": entry["num_rows"],
        "statistics": entry.get("statistics", []),
        "partial": bool(entry.get("partial")),
    }
