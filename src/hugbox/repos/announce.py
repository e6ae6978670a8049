"""What the repos domain tells the rest of the hub: each change to a repo becomes an event in
the transaction that records it, and each ref move also updates the commit the database knows for
that ref, which is what the reconciler compares with git."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.events import service as events
from hugbox.repos.models import Repo, RepoRef


def announce(session: Session, repo: Repo, kind: str, **data: Any) -> None:
    """Record an event of `kind` about `repo`, in the caller's transaction."""
    key = events.RepoKey(pk=repo.pk, type=repo.type.value, repo_id=repo.repo_id)
    events.record(session, key, kind, **data)


def ref_moved(session: Session, repo: Repo, *, ref: str, old: str | None, new: str | None) -> None:
    """A ref of `repo` moved (`old` None for a new ref, `new` None for a deleted one): remember
    its new commit and announce the move, in the transaction of the change."""
    record_ref(session, repo, ref=ref, commit=new)
    if old != new:
        announce(session, repo, events.REF_MOVED, ref=ref, old=old, new=new)


def refs_moved(
    session: Session, repo: Repo, *, before: Mapping[str, str], after: Mapping[str, str]
) -> None:
    """Announce every ref that differs between two snapshots ({ref: commit}) of `repo`."""
    for ref in sorted(before.keys() | after.keys()):
        if before.get(ref) != after.get(ref):
            ref_moved(session, repo, ref=ref, old=before.get(ref), new=after.get(ref))


def record_ref(session: Session, repo: Repo, *, ref: str, commit: str | None) -> None:
    """Set (or, for None, forget) the commit the database knows for `ref`, without an event."""
    row = session.get(RepoRef, (repo.pk, ref))
    if commit is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(RepoRef(repo_pk=repo.pk, ref=ref, commit=commit))
    else:
        row.commit = commit


def recorded_refs(session: Session, repo: Repo) -> dict[str, str]:
    """{ref: commit} as the database last recorded them for `repo`."""
    rows = session.scalars(select(RepoRef).where(RepoRef.repo_pk == repo.pk))
    return {row.ref: row.commit for row in rows}
