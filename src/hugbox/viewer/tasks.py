"""Background jobs of the viewer: convert a dataset to parquet (then compute its statistics),
and build a split's search/filter index."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hugbox.db import Database
from hugbox.jobs import service as jobs
from hugbox.jobs.worker import Handler
from hugbox.repos.checkout import checkout
from hugbox.repos.models import Repo, RepoType
from hugbox.storage import git
from hugbox.viewer import convert as conversion
from hugbox.viewer import export, index, stats
from hugbox.viewer.models import INDEX_JOB, ExportStatus, ViewerExport, job_key
from hugbox.viewer.service import Viewer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ViewerTasks:
    """The job handlers, bound to what they need."""

    database: Database
    viewer: Viewer
    max_dataset_bytes: int

    def handlers(self) -> dict[str, Handler]:
        from hugbox.viewer.models import CONVERT_JOB

        return {CONVERT_JOB: self.convert, INDEX_JOB: self.build_index}

    def convert(self, payload: dict[str, Any]) -> None:
        with self.database.session() as session:
            repo = session.get(Repo, payload["repo_pk"])
            if repo is None or repo.type is not RepoType.DATASET or repo.head_sha is None:
                return
            session.expunge(repo)
            done = session.get(ViewerExport, repo.pk)
            if done is not None and done.revision == repo.head_sha and not payload.get("force"):
                return
        content, failure = self._convert(repo, repo.head_sha)
        with self.database.session() as session:
            _save(session, repo.pk, repo.head_sha, content, failure)
            for config in content.get("configs", []):
                for split in config.get("splits", []):
                    _queue_index(session, repo.pk, content["parquet_revision"], config, split)

    def _convert(
        self, repo: Repo, revision: str
    ) -> tuple[dict[str, Any], conversion.ConversionError | None]:
        if repo.card_data.get("viewer") is False:
            return {}, conversion.ConversionError(
                "NotSupportedDisabledViewerError",
                "The dataset viewer has been disabled on this dataset.",
            )
        store = self.viewer.store
        with tempfile.TemporaryDirectory(dir=store.tmp_dir, prefix="viewer-") as work:
            source, out = Path(work) / "source", Path(work) / "out"
            gitrepo = store.open(repo)
            commit = git.resolve(gitrepo, revision)
            assert commit is not None
            checkout(gitrepo, commit, store.blobs, source)
            try:
                names = conversion.config_names(source)
            except conversion.ConversionError as exc:
                return {}, exc
            configs = [
                conversion.convert_config(source, n, out, max_bytes=self.max_dataset_bytes)
                for n in names
            ]
            content = self._publish(repo, revision, configs)
            broken = [c.error for c in configs if c.error is not None]
            # Nothing viewable: the dataset as a whole answers with the (first) reason.
            return content, broken[0] if broken and len(broken) == len(configs) else None

    def _publish(
        self, repo: Repo, revision: str, configs: list[conversion.ConfigExport]
    ) -> dict[str, Any]:
        published: list[export.PublishedFile] = []
        entries = []
        for config in configs:
            entry = _config_entry(config)
            for split, split_entry in zip(config.splits, entry["splits"], strict=True):
                for file in split.files:
                    stored = export.store_file(self.viewer.store, file)
                    path = export.repo_path(config.config, split.split, split.partial, file)
                    published.append(export.PublishedFile(path, stored.oid, stored.size))
                    split_entry["files"].append(
                        {"path": path, "oid": stored.oid, "size": stored.size}
                    )
                split_entry.update(_split_extras(split, config.features))
            entries.append(entry)
        with self.database.session() as session:  # the repo lock's transaction, on PostgreSQL
            parquet_revision = export.publish(
                session, self.viewer.store, repo, revision=revision, files=published
            )
        return {"revision": revision, "parquet_revision": parquet_revision, "configs": entries}

    def build_index(self, payload: dict[str, Any]) -> None:
        with self.database.session() as session:
            done = session.get(ViewerExport, payload["repo_pk"])
            if done is None or done.content.get("parquet_revision") != payload["revision"]:
                return  # superseded by a newer export
            entry = next(
                (
                    s
                    for c in done.content["configs"]
                    if c["config"] == payload["config"]
                    for s in c["splits"]
                    if s["split"] == payload["split"]
                ),
                None,
            )
        if entry is None:
            return
        dest = self.viewer.index_path(
            payload["repo_pk"], payload["revision"], payload["config"], payload["split"]
        )
        if dest.exists():
            return
        paths = [self.viewer.store.blobs.cached_path(f["oid"]) for f in entry["files"]]
        index.build([p for p in paths if p is not None], dest)


def _config_entry(config: conversion.ConfigExport) -> dict[str, Any]:
    error = {"code": config.error.code, "message": config.error.message} if config.error else None
    return {
        "config": config.config,
        "builder": config.builder,
        "features": config.features,
        "num_bytes_original": config.num_bytes_original,
        "error": error,
        "splits": []
        if error
        else [
            {
                "split": s.split,
                "num_rows": s.num_rows,
                "num_bytes_memory": s.num_bytes_memory,
                "partial": s.partial,
                "files": [],
            }
            for s in config.splits
        ],
    }


def _split_extras(split: conversion.SplitExport, features: dict[str, Any]) -> dict[str, Any]:
    import pyarrow.parquet as pq

    schema = pq.ParquetFile(split.files[0]).schema_arrow
    columns = index.index_columns(schema)
    return {
        "filterable": columns.filterable,
        "searchable": bool(columns.searchable),
        "statistics": stats.statistics(split.files, features),
    }


def _save(
    session: Any,
    repo_pk: int,
    revision: str,
    content: dict[str, Any],
    failure: conversion.ConversionError | None,
) -> None:
    found = session.get(ViewerExport, repo_pk)
    if found is None:
        found = ViewerExport(repo_pk=repo_pk)
        session.add(found)
    found.revision = revision
    found.status = ExportStatus.ERROR if failure else ExportStatus.OK
    found.error_code = failure.code if failure else None
    found.error = failure.message if failure else None
    found.content = content
    session.flush()


def _queue_index(
    session: Any, repo_pk: int, revision: str, config: dict[str, Any], split: dict[str, Any]
) -> None:
    if not split.get("files"):
        return
    key = f"{job_key(repo_pk)}/index/{config['config']}/{split['split']}"
    payload = {
        "repo_pk": repo_pk,
        "revision": revision,
        "config": config["config"],
        "split": split["split"],
    }
    jobs.enqueue(session, kind=INDEX_JOB, key=key, payload=payload)
