"""The viewer's answers, from the export manifest the conversion job recorded and the parquet
and index files it wrote. Plain functions: no HTTP here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from hugbox.auth.recent import RecentAccess
from hugbox.events import service as events
from hugbox.events.models import RepoEvent
from hugbox.jobs import service as jobs
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.store import RepoStore
from hugbox.viewer import cells, index, manifest
from hugbox.viewer.errors import (
    InvalidParameter,
    ResponseNotFound,
    ResponseNotReady,
    SearchFeatureNotAvailable,
    StoredError,
)
from hugbox.viewer.filter import FilterSyntaxError, parse_orderby, parse_where
from hugbox.viewer.models import (
    CONVERT_JOB,
    INDEX_JOB,
    ExportStatus,
    ViewerExport,
    job_key,
)
from hugbox.viewer.reader import ReaderCache, SplitReader

PAGE = 100


@dataclass
class Viewer:
    """What the viewer keeps per process: where its files live, and open parquet readers."""

    store: RepoStore
    data_dir: Path
    readers: ReaderCache
    recent: RecentAccess = field(default_factory=RecentAccess)

    def index_path(self, repo_pk: int, parquet_revision: str, config: str, split: str) -> Path:
        parts = (quote(config, safe=""), quote(split, safe=""))
        return self.data_dir / str(repo_pk) / parquet_revision / parts[0] / f"{parts[1]}.sqlite"


def on_ref_moved(session: Session, event: RepoEvent) -> None:
    """A dataset's main branch moved: convert its new head (again, if delivered twice)."""
    repo = session.get(Repo, event.repo_pk)
    if repo is not None and events.main_moved(event):
        dataset_changed(session, repo)


def dataset_changed(session: Session, repo: Repo) -> None:
    """A commit moved a dataset's main branch: convert it again (after this transaction)."""
    if repo.type is RepoType.DATASET:
        jobs.enqueue(session, kind=CONVERT_JOB, key=job_key(repo.pk), payload={"repo_pk": repo.pk})


def request_rebuild(session: Session, repo: Repo) -> None:
    jobs.enqueue(
        session, kind=CONVERT_JOB, key=job_key(repo.pk), payload={"repo_pk": repo.pk, "force": True}
    )


def load_export(session: Session, repo: Repo) -> ViewerExport:
    """The newest export of the dataset; an older one is served while its successor converts."""
    export = session.get(ViewerExport, repo.pk)
    current = export is not None and export.revision == repo.head_sha
    if not current and not jobs.pending(session, kind=CONVERT_JOB, key=job_key(repo.pk)):
        dataset_changed(session, repo)  # nothing queued (e.g. data from before the viewer)
    if export is None:
        raise ResponseNotReady()
    if export.status is ExportStatus.ERROR:
        if not current:
            raise ResponseNotReady()
        raise StoredError(export.error_code or "UnexpectedError", export.error or "")
    return export


def is_valid(session: Session, repo: Repo, config: str | None, split: str | None) -> dict[str, Any]:
    try:
        export = load_export(session, repo)
        entries = manifest.ok_configs(export, config)
        splits = [s for c in entries for s in c["splits"] if split is None or s["split"] == split]
    except (StoredError, ResponseNotFound) as exc:
        flags = dict.fromkeys(("preview", "viewer", "search", "filter", "statistics"), False)
        return {**flags, "error": {"error_code": exc.error_code, "message": exc.message}}
    ok = bool(splits)
    searchable = any(s.get("searchable") for s in splits)
    return {"preview": ok, "viewer": ok, "search": searchable, "filter": ok, "statistics": ok}


def splits(session: Session, repo: Repo, config: str | None) -> dict[str, Any]:
    export = load_export(session, repo)
    listed = [
        {"dataset": repo.repo_id, "config": c["config"], "split": s["split"]}
        for c in manifest.ok_configs(export, config)
        for s in c["splits"]
    ]
    return {
        "splits": listed,
        "pending": [],
        "failed": manifest.failed(export, repo.repo_id, config),
    }


def split_reader(viewer: Viewer, entry: dict[str, Any]) -> SplitReader:
    files = entry["files"]
    paths = []
    for file in files:
        path = viewer.store.blobs.cached_path(file["oid"])
        if path is None:
            raise ResponseNotReady("The parquet files of this split are not available yet")
        paths.append(path)
    return viewer.readers.get(tuple(f["oid"] for f in files), paths)


def page(
    viewer: Viewer,
    export: ViewerExport,
    config: str,
    split: str,
    *,
    offset: int,
    length: int,
    asset_url: cells.AssetUrl,
) -> dict[str, Any]:
    entry = manifest.find_split(export, config, split)
    features = manifest.find_config(export, config)["features"]
    reader = split_reader(viewer, entry)
    table = reader.read(offset, length)
    rows = cells.render_rows(
        table, list(range(offset, offset + table.num_rows)), features, asset_url
    )
    return {
        "features": cells.features_list(features),
        "rows": rows,
        "num_rows_total": reader.num_rows,
        "num_rows_per_page": PAGE,
        "partial": bool(entry.get("partial")),
    }


def picked(
    viewer: Viewer,
    export: ViewerExport,
    config: str,
    split: str,
    row_indexes: list[int],
    total: int,
    asset_url: cells.AssetUrl,
) -> dict[str, Any]:
    entry = manifest.find_split(export, config, split)
    features = manifest.find_config(export, config)["features"]
    table = split_reader(viewer, entry).take(row_indexes)
    return {
        "features": cells.features_list(features),
        "rows": cells.render_rows(table, row_indexes, features, asset_url),
        "num_rows_total": total,
        "num_rows_per_page": PAGE,
        "partial": bool(entry.get("partial")),
    }


def index_file(
    session: Session, viewer: Viewer, repo: Repo, export: ViewerExport, config: str, split: str
) -> Path:
    """The split's search/filter index; not ready (and queued) while it is being built."""
    manifest.find_split(export, config, split)
    parquet_revision = export.content["parquet_revision"]
    path = viewer.index_path(repo.pk, parquet_revision, config, split)
    if path.exists():
        return path
    key = f"{job_key(repo.pk)}/index/{config}/{split}"
    if not jobs.pending(session, kind=INDEX_JOB, key=key):
        payload = {
            "repo_pk": repo.pk,
            "revision": parquet_revision,
            "config": config,
            "split": split,
        }
        jobs.enqueue(session, kind=INDEX_JOB, key=key, payload=payload)
    raise ResponseNotReady("The dataset index is loading, this can take a minute. Please retry.")


def search(
    session: Session,
    viewer: Viewer,
    repo: Repo,
    export: ViewerExport,
    config: str,
    split: str,
    *,
    query: str,
    offset: int,
    length: int,
    asset_url: cells.AssetUrl,
) -> dict[str, Any]:
    entry = manifest.find_split(export, config, split)
    if not entry.get("searchable"):
        raise SearchFeatureNotAvailable("The split has no string column to search in")
    path = index_file(session, viewer, repo, export, config, split)
    row_indexes, total = index.search(path, query, offset, length)
    return picked(viewer, export, config, split, row_indexes, total, asset_url)


def filter_split(
    session: Session,
    viewer: Viewer,
    repo: Repo,
    export: ViewerExport,
    config: str,
    split: str,
    *,
    where: str | None,
    orderby: str | None,
    offset: int,
    length: int,
    asset_url: cells.AssetUrl,
) -> dict[str, Any]:
    entry = manifest.find_split(export, config, split)
    columns = dict(entry.get("filterable", {}))
    try:
        where_clause = parse_where(where, columns) if where else None
        order_clause = parse_orderby(orderby, columns) if orderby else None
    except FilterSyntaxError as exc:
        raise InvalidParameter(f"Parameter 'where' or 'orderby' is invalid: {exc}") from exc
    path = index_file(session, viewer, repo, export, config, split)
    row_indexes, total = index.filter_rows(path, where_clause, order_clause, offset, length)
    return picked(viewer, export, config, split, row_indexes, total, asset_url)


def first_rows(
    viewer: Viewer,
    export: ViewerExport,
    repo: Repo,
    config: str,
    split: str,
    asset_url: cells.AssetUrl,
) -> dict[str, Any]:
    found = page(viewer, export, config, split, offset=0, length=PAGE, asset_url=asset_url)
    return {
        "dataset": repo.repo_id,
        "config": config,
        "split": split,
        "features": found["features"],
        "rows": found["rows"],
        "truncated": found["num_rows_total"] > len(found["rows"]),
    }


def asset(
    viewer: Viewer, export: ViewerExport, config: str, split: str, row_idx: int, column: str
) -> bytes:
    entry = manifest.find_split(export, config, split)
    reader = split_reader(viewer, entry)
    if not 0 <= row_idx < reader.num_rows or column not in reader.schema.names:
        raise ResponseNotFound("No such cell")
    found = cells.asset_bytes(reader.read(row_idx, 1).column(column)[0].as_py())
    if found is None:
        raise ResponseNotFound("The cell holds no file")
    return found


def find_dataset(session: Session, repo_id: str) -> Repo:
    """The dataset an operator names (no access check: operators see everything)."""
    from hugbox.repos.service import Moved, find_repo

    found = find_repo(session, RepoType.DATASET, repo_id)
    repo = found.repo if isinstance(found, Moved) else found
    if repo is None:
        raise ResponseNotFound(f"No dataset {repo_id!r}")
    return repo


def status(session: Session, repo: Repo) -> dict[str, Any]:
    """The conversion state of a dataset, and its recent jobs (for operators)."""
    export = session.get(ViewerExport, repo.pk)
    report: dict[str, Any] = {"dataset": repo.repo_id, "head": repo.head_sha, "export": None}
    if export is not None:
        report["export"] = {
            "revision": export.revision,
            "current": export.revision == repo.head_sha,
            "status": export.status.value,
            "error": {"code": export.error_code, "message": export.error} if export.error else None,
            "parquet_revision": export.content.get("parquet_revision"),
            "configs": [
                {
                    "config": c["config"],
                    "error": c.get("error"),
                    "splits": [
                        {"split": s["split"], "num_rows": s["num_rows"], "partial": s["partial"]}
                        for s in c["splits"]
                    ],
                }
                for c in manifest.configs(export)
            ],
        }
    report["jobs"] = [
        {
            "id": j.id,
            "kind": j.kind,
            "key": j.key,
            "status": j.status.value,
            "attempts": j.attempts,
            "error": (j.error or "").strip().splitlines()[-1:] or None,
        }
        for j in jobs.jobs_for(session, key=job_key(repo.pk))
    ]
    return report
