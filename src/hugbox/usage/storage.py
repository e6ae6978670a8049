"""Storage accounting and quotas.

A repo's storage is what its history holds, as HF counts it: every large file (LFS or Xet) that
some ref reaches and the repo still names, once per repo however many commits name it, plus the
regular git files of every ref (each blob once). It is measured after each change of its refs
(a repo event) and kept on the repo's row (`used_storage`). An account's use is the sum over the
repos it owns, private and public apart, read from the rows as they are now: a repo deleted,
moved to another owner or made private counts where it is at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hugbox.auth.models import Account
from hugbox.errors import Forbidden
from hugbox.plans import service as plans
from hugbox.repos import objects as repo_objects
from hugbox.repos import service as repos
from hugbox.repos.models import Repo
from hugbox.repos.store import RepoStore
from hugbox.settings import Settings
from hugbox.storage import gitcli
from hugbox.usage.models import RepoStorage, StorageQuota, StorageUse

LARGEST_KEPT = 10
# HF's words (spec/community-plans.md §4.4); the public one mirrors them.
PRIVATE_FULL = "Private repository storage limit reached, please upgrade your plan..."
PUBLIC_FULL = "Public repository storage limit reached, please upgrade your plan..."


@dataclass(frozen=True)
class LargeFile:
    oid: str
    path: str  # one path that names it (several commits may name it under other paths)
    size: int


def large_files(session: Session, store: RepoStore, repo: Repo) -> list[LargeFile]:
    """The large files the repo's history names and still holds, biggest first."""
    git_dir = store.git_dir(repo)
    blobs = list(gitcli.blobs_reachable(git_dir, ["--all"], new_only=False))
    found: dict[str, LargeFile] = {}
    for blob, pointer in gitcli.lfs_pointers(git_dir, blobs):
        found.setdefault(pointer.oid, LargeFile(pointer.oid, blob.path, pointer.size))
    held = repo_objects.readable(session, repo_pk=repo.pk, user_id=None, oids=found)
    return sorted((found[oid] for oid in held), key=lambda f: (-f.size, f.path))


def measure(session: Session, store: RepoStore, repo: Repo) -> RepoStorage:
    """Measure the repo's storage now and keep it (its row and its breakdown)."""
    git_dir = store.git_dir(repo)
    git_bytes = sum(b.size for b in gitcli.blobs_reachable(git_dir, ["--all"], new_only=False))
    large = large_files(session, store, repo)
    lfs_bytes = sum(f.size for f in large)
    row = session.get(RepoStorage, repo.pk) or RepoStorage(repo_pk=repo.pk)
    row.lfs_bytes, row.git_bytes = lfs_bytes, git_bytes
    row.largest = [{"path": f.path, "size": f.size, "oid": f.oid} for f in large[:LARGEST_KEPT]]
    session.add(row)
    repos.set_used_storage(session, repo_pk=repo.pk, used_storage=lfs_bytes + git_bytes)
    return row


def storage_used(session: Session, owner_id: int) -> StorageUse:
    rows = session.execute(
        select(Repo.private, func.coalesce(func.sum(Repo.used_storage), 0))
        .where(Repo.owner_id == owner_id)
        .group_by(Repo.private)
    )
    by_kind = {bool(private): int(total) for private, total in rows}
    return StorageUse(private=by_kind.get(True, 0), public=by_kind.get(False, 0))


def quota_for(session: Session, owner: Account, *, settings: Settings) -> StorageQuota:
    """The one place quotas are read: the owner's plan (`private_storage` / `public_storage`),
    capped by the operator's ceiling for every account (`HUGBOX_STORAGE_QUOTA_*`) when set."""
    plan = plans.plan_for(session, owner)
    return StorageQuota(
        private=_lowest(plan.private_storage, settings.storage_quota_private),
        public=_lowest(plan.public_storage, settings.storage_quota_public),
    )


def _lowest(*limits: int | None) -> int | None:
    """The tightest of some limits, None (unlimited) when none is set."""
    return min((int(limit) for limit in limits if limit is not None), default=None)


def check_upload(session: Session, repo: Repo, size: int, *, settings: Settings) -> None:
    """Refuse an upload of `size` more bytes that would take the repo's owner over its quota
    for the repo's kind (private or public)."""
    quota = quota_for(session, repo.owner, settings=settings)
    limit = quota.private if repo.private else quota.public
    if limit is None:
        return
    used = storage_used(session, repo.owner_id)
    current = used.private if repo.private else used.public
    if current + size > limit:
        raise Forbidden(PRIVATE_FULL if repo.private else PUBLIC_FULL)


def largest_repos(session: Session, owner_id: int, *, limit: int = 10) -> list[dict[str, Any]]:
    """The owner's biggest repos with their largest files, for the storage page."""
    stmt = (
        select(Repo, RepoStorage)
        .outerjoin(RepoStorage, RepoStorage.repo_pk == Repo.pk)
        .where(Repo.owner_id == owner_id)
        .order_by(Repo.used_storage.desc(), Repo.pk)
        .limit(limit)
    )
    return [
        {"repo": repo, "largest": (kept.largest if kept else [])[:5]}
        for repo, kept in session.execute(stmt)
    ]


def delete_lfs_files(session: Session, store: RepoStore, repo: Repo, oids: list[str]) -> None:
    """`permanently_delete_lfs_files`: the repo stops naming these large files, so they leave
    its storage at once; bytes no other repo names leave the store. The pointers stay in git
    history (no rewrite): fetching one answers that its content is gone, as on HF."""
    gone = repo_objects.unlink(session, repo_pk=repo.pk, oids=oids)
    measure(session, store, repo)
    session.flush()
    for oid in sorted(gone):
        store.blobs.delete(oid)
