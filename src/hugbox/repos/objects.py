"""Who may read a large file: access to a content-addressed object follows the repos naming it.

The blob store keeps one copy per sha256 for every repo, so knowing a sha256 proves nothing:
those of weights are in public cards, in pointers that leak into logs, in download caches. The
rule, for plain LFS objects and Xet files alike (a Xet file is the sha256 of its recipe):

- An object is served or linked through repo R (LFS batch download, Xet reconstruction) only if
  a commit of R names it (`RepoObject`: any ref, pull requests and the parquet export included),
  or to the user who uploaded it for R and has not committed it yet (`ObjectUpload`).
- A commit or push to R may name an object only if the committer uploaded it for R, R names it
  already, or a repo whose files the committer may download names it (a copy between repos they
  can read). Anything else must be uploaded, which proves possession; the store stays
  deduplicated underneath, since an upload of bytes it holds writes nothing new.
- `duplicate_repo` copies the source's history, so the copy names what the source names;
  a move keeps the repo's key, so nothing changes; deleting a repo drops its rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hugbox.auth.models import Account
from hugbox.auth.service import Caller
from hugbox.db import utcnow
from hugbox.errors import BadRequest
from hugbox.repos import access
from hugbox.repos.models import ObjectUpload, Repo, RepoObject
from hugbox.repos.store import RepoStore
from hugbox.storage import gitcli


def _insert_new(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows, keeping those already there (written before, or by a concurrent request)."""
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    assert isinstance(table, Table)
    session.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


def link(session: Session, *, repo_pk: int, oids: Iterable[str]) -> None:
    """Record that a commit of the repo names these objects."""
    rows = [{"repo_pk": repo_pk, "oid": oid} for oid in set(oids)]
    _insert_new(session, RepoObject.__table__, rows)


def record_upload(session: Session, *, repo_pk: int, user_id: int, oid: str) -> None:
    """Record that `user_id` proved to hold `oid` by uploading it for the repo."""
    row = {"repo_pk": repo_pk, "oid": oid, "user_id": user_id, "created_at": utcnow()}
    _insert_new(session, ObjectUpload.__table__, [row])


def readable(
    session: Session, *, repo_pk: int, user_id: int | None, oids: Collection[str]
) -> set[str]:
    """Those of `oids` that may be served through the repo to `user_id` (None: anonymous)."""
    wanted = set(oids)
    if not wanted:
        return set()
    found = set(
        session.scalars(
            select(RepoObject.oid).where(RepoObject.repo_pk == repo_pk, RepoObject.oid.in_(wanted))
        )
    )
    if user_id is not None and wanted - found:
        found |= set(
            session.scalars(
                select(ObjectUpload.oid).where(
                    ObjectUpload.repo_pk == repo_pk,
                    ObjectUpload.user_id == user_id,
                    ObjectUpload.oid.in_(wanted - found),
                )
            )
        )
    return found


def admissible(session: Session, *, caller: Caller, repo: Repo, oids: Collection[str]) -> set[str]:
    """Those of `oids` that `caller` may name in a commit to `repo` (or skip uploading)."""
    user_id = caller.user.id if caller.user else None
    found = readable(session, repo_pk=repo.pk, user_id=user_id, oids=oids)
    missing = set(oids) - found
    if missing:
        found |= _downloadable_elsewhere(session, caller, missing)
    return found


def admissible_for(
    session: Session, *, repo_pk: int, user_id: int, oids: Collection[str]
) -> set[str]:
    """`admissible` for a pusher known by ids (the git hook runs in a process of its own)."""
    repo, user = session.get(Repo, repo_pk), session.get(Account, user_id)
    if repo is None or user is None:
        return set()
    return admissible(session, caller=Caller(user=user), repo=repo, oids=oids)


def _downloadable_elsewhere(session: Session, caller: Caller, oids: set[str]) -> set[str]:
    query = (
        select(RepoObject.oid, Repo)
        .join(Repo, Repo.pk == RepoObject.repo_pk)
        .where(RepoObject.oid.in_(oids))
        # Public, ungated repos first: most copies come from them and need no further check.
        .order_by(Repo.private, Repo.gated.is_not(None))
    )
    found: set[str] = set()
    for oid, other in session.execute(query):
        if oid not in found and access.can_download(session, caller, other):
            found.add(oid)
    return found


def require_admissible(
    session: Session, *, caller: Caller, repo: Repo, oids: Collection[str]
) -> None:
    """Refuse a commit naming an object the committer has not shown they hold, with the words
    of a missing object: whether it exists elsewhere is nobody else's business."""
    refused = set(oids) - admissible(session, caller=caller, repo=repo, oids=oids)
    if refused:
        oid = min(refused)
        raise BadRequest(
            f"LFS object {oid} was not uploaded: upload it with the LFS batch API first"
        )


def index_history(session: Session, store: RepoStore, repo: Repo) -> None:
    """Link every large file that a ref of the repo reaches (a copied history, or a repo made
    before this index existed)."""
    link(session, repo_pk=repo.pk, oids=gitcli.referenced_objects(store.git_dir(repo)))
    repo.objects_indexed = True


def index_unindexed(session: Session, store: RepoStore) -> int:
    """Index the repos not indexed yet (once, after the upgrade that added the index)."""
    repos = list(session.scalars(select(Repo).where(Repo.objects_indexed.is_(False))))
    for repo in repos:
        index_history(session, store, repo)
    return len(repos)


def unlink(session: Session, *, repo_pk: int, oids: Collection[str]) -> set[str]:
    """Forget that the repo names these objects (`permanently_delete_lfs_files`): its readers
    lose them, and they stop counting in its storage. Those no repo names any more (nor holds
    as an upload) are returned: the store may drop their bytes."""
    wanted = set(oids)
    for table in (RepoObject, ObjectUpload):
        session.execute(delete(table).where(table.repo_pk == repo_pk, table.oid.in_(wanted)))
    still = set(session.scalars(select(RepoObject.oid).where(RepoObject.oid.in_(wanted))))
    still |= set(session.scalars(select(ObjectUpload.oid).where(ObjectUpload.oid.in_(wanted))))
    return wanted - still
