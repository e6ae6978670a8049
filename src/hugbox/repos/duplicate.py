"""`duplicate_repo`: a new repo holding another's whole history (branches and tags), copied on
the server. Large files are shared, not copied: blobs are content-addressed."""

from __future__ import annotations

import subprocess

from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.auth.service import Caller
from hugbox.repos import announce, indexer, objects, service
from hugbox.repos.models import Repo
from hugbox.repos.store import RepoStore
from hugbox.storage import git
from hugbox.xet.models import XetFileRepo

_REFS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")


def duplicate_repo(
    session: Session, store: RepoStore, *, caller: Caller, source: Repo, to_id: str,
    private: bool,
) -> Repo:  # fmt: skip
    namespace, _, name = to_id.rpartition("/")
    target = service.create_repo(
        session, store, caller=caller, repo_type=source.type, namespace=namespace or None,
        name=name, private=private, sdk=source.sdk,
    )  # fmt: skip
    with store.locked(target):
        before = git.ref_targets(store.open(target))
        subprocess.run(
            ["git", *git.config_args(git.DURABLE_CONFIG), f"--git-dir={store.git_dir(target)}",
             "fetch", "--quiet", "--no-tags",
             str(store.git_dir(source)), *_REFS],
            check=True, capture_output=True,
        )  # fmt: skip
        after = git.ref_targets(store.open(target))
    _share_xet_files(session, source, target)
    objects.index_history(session, store, target)  # the copy names what its refs reach
    indexer.refresh(session, store, target)
    announce.refs_moved(session, target, before=before, after=after)
    return target


def _share_xet_files(session: Session, source: Repo, target: Repo) -> None:
    """The copy may read the source's Xet files, as its pointers name them."""
    hashes = session.scalars(select(XetFileRepo.file_hash).where(XetFileRepo.repo_pk == source.pk))
    session.add_all(XetFileRepo(repo_pk=target.pk, file_hash=h) for h in hashes)
    session.flush()
