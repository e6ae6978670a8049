"""`duplicate_repo`: a new repo holding another's whole history (branches and tags), copied on
the server. Large files are shared, not copied: blobs are content-addressed."""

from __future__ import annotations

import subprocess

from sqlalchemy.orm import Session

from hugbox.auth.service import Caller
from hugbox.repos import announce, indexer, objects, service
from hugbox.repos.models import Repo
from hugbox.repos.store import RepoStore
from hugbox.storage import git

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
    with store.locked(target, session):
        before = git.ref_targets(store.open(target))
        subprocess.run(
            ["git", *git.config_args(git.DURABLE_CONFIG), f"--git-dir={store.git_dir(target)}",
             "fetch", "--quiet", "--no-tags",
             str(store.git_dir(source)), *_REFS],
            check=True, capture_output=True,
        )  # fmt: skip
        after = git.ref_targets(store.open(target))
    objects.index_history(session, store, target)  # the copy names what its refs reach
    indexer.refresh(session, store, target)
    announce.refs_moved(session, target, before=before, after=after)
    return target
