"""Operating Xet storage: what it holds (logical vs stored bytes), and garbage collection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hugbox.repos.models import Repo
from hugbox.storage.blobs import BlobStore
from hugbox.xet.blobs import XetBlobStore
from hugbox.xet.models import XetDedup, XetFile, XetFileRepo, Xorb

# Clients cache shards for 21 days and then reference their xorbs without uploading them again
# (spec/xet.md §3.6): nothing touched more recently than this is ever deleted.
GC_GRACE = timedelta(days=30)


@dataclass(frozen=True)
class RepoUsage:
    repo_id: str
    repo_type: str
    files: int
    logical_bytes: int
    stored_bytes: int  # the xorbs its files use (xorbs shared with other repos count fully)

    @property
    def dedup_ratio(self) -> float:
        return self.logical_bytes / self.stored_bytes if self.stored_bytes else 1.0


@dataclass(frozen=True)
class StorageStats:
    xorbs: int
    stored_bytes: int  # xorb bytes on disk (compressed, each chunk once)
    unique_bytes: int  # the same chunks, uncompressed
    files: int
    logical_bytes: int  # sum over repos of the Xet files they hold
    repos: list[RepoUsage]

    @property
    def dedup_ratio(self) -> float:
        return self.logical_bytes / self.stored_bytes if self.stored_bytes else 1.0


def storage_stats(session: Session) -> StorageStats:
    xorbs, stored, unique = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Xorb.stored_size), 0),
            func.coalesce(func.sum(Xorb.unpacked_size), 0),
        )
    ).one()
    sizes = dict(session.execute(select(Xorb.hash, Xorb.stored_size)).all())
    usage: dict[int, tuple[Repo, list[XetFile]]] = {}
    for repo, file in session.execute(
        select(Repo, XetFile)
        .join(XetFileRepo, XetFileRepo.repo_pk == Repo.pk)
        .join(XetFile, XetFile.file_hash == XetFileRepo.file_hash)
    ):
        usage.setdefault(repo.pk, (repo, []))[1].append(file)
    repos = sorted(
        (_usage(repo, files, sizes) for repo, files in usage.values()),
        key=lambda r: -r.logical_bytes,
    )
    files = session.scalar(select(func.count()).select_from(XetFile)) or 0
    logical = sum(r.logical_bytes for r in repos)
    return StorageStats(xorbs, int(stored), int(unique), files, logical, repos)


def _usage(repo: Repo, files: list[XetFile], sizes: dict[str, int]) -> RepoUsage:
    xorbs = {str(term[0]) for file in files for term in file.terms}
    stored = sum(sizes.get(name, 0) for name in xorbs)
    logical = sum(file.size for file in files)
    return RepoUsage(repo.repo_id, repo.type.value, len(files), logical, stored)


@dataclass(frozen=True)
class Collected:
    files: int
    xorbs: list[str]
    bytes: int


def collect_garbage(
    session: Session, blobs: XetBlobStore, *, dry_run: bool = False, now: datetime | None = None
) -> Collected:
    """Forget Xet files no repo holds any more, and the xorbs that neither a file nor a recipe
    of the sha256 store references and that nobody has touched for GC_GRACE. (A recipe is the
    only copy of a file's bytes, kept like any object of that store.) Only rows go here;
    `delete_xorbs` removes the bytes once this transaction has committed (a crash in between
    leaves unreferenced bytes, never a row without bytes)."""
    orphans = select(XetFile.file_hash).where(
        ~select(XetFileRepo.file_hash).where(XetFileRepo.file_hash == XetFile.file_hash).exists()
    )
    orphan_files = list(session.scalars(orphans))
    live = {
        str(term[0])
        for terms in session.scalars(
            select(XetFile.terms).where(XetFile.file_hash.not_in(orphan_files))
        )
        for term in terms
    }
    live.update(part.xorb for recipe in blobs.recipes() for part in recipe.segments)
    cutoff = (now or datetime.now(UTC)) - GC_GRACE
    dead = [
        (h, n)
        for h, n in session.execute(
            select(Xorb.hash, Xorb.stored_size).where(Xorb.touched_at < cutoff)
        )
        if h not in live
    ]
    if not dry_run:
        session.execute(delete(XetFile).where(XetFile.file_hash.in_(orphan_files)))
        names = [h for h, _n in dead]
        session.execute(delete(XetDedup).where(XetDedup.xorb_hash.in_(names)))
        session.execute(delete(Xorb).where(Xorb.hash.in_(names)))
    return Collected(len(orphan_files), [h for h, _n in dead], sum(n for _h, n in dead))


def delete_xorbs(xorbs: BlobStore, names: list[str]) -> None:
    for name in names:
        xorbs.delete(name)
