"""The pre-receive hook git runs during a push: `python -m hugbox.gitserver.hook`.

receive-pack starts it with the pushed objects in quarantine and the updates on stdin; what it
prints on stderr reaches the pusher as `remote: …` lines, and a non-zero exit refuses the push.
The server passes what the hook needs in HUGBOX_HOOK_* variables (see `service.hook_env`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hugbox.gitserver import policy
from hugbox.xet.blobs import open_blob_store

BLOBS_VAR = "HUGBOX_HOOK_BLOBS"
XET_VAR = "HUGBOX_HOOK_XET"
BLOB_URL_VAR = "HUGBOX_HOOK_BLOB_URL"  # the bucket, when blobs are kept in one
MAX_FILE_VAR = "HUGBOX_HOOK_MAX_FILE"
DEFAULT_BRANCH_VAR = "HUGBOX_HOOK_DEFAULT_BRANCH"
REPORT_VAR = "HUGBOX_HOOK_REPORT"
# Who pushes to which repo, and the database that knows which LFS objects they may name.
DATABASE_VAR = "HUGBOX_HOOK_DATABASE"
REPO_VAR = "HUGBOX_HOOK_REPO"
USER_VAR = "HUGBOX_HOOK_USER"
WRITER_VAR = "HUGBOX_HOOK_WRITER"  # "1" when the pusher may write branches and tags
PR_REFS_VAR = "HUGBOX_HOOK_PR_REFS"  # the open PRs' refs the pusher may move, space-separated


def main() -> int:
    updates = policy.parse_updates(sys.stdin.read())
    rules = policy.Rules(
        blobs=open_blob_store(
            Path(os.environ[BLOBS_VAR]),
            Path(os.environ[XET_VAR]),
            blob_url=os.environ.get(BLOB_URL_VAR) or None,
        ),
        max_file=int(os.environ[MAX_FILE_VAR]),
        default_branch=os.environ[DEFAULT_BRANCH_VAR],
        admit=admit,
        writer=os.environ.get(WRITER_VAR, "1") == "1",
        pr_refs=frozenset(os.environ.get(PR_REFS_VAR, "").split()),
    )
    try:
        verdict = policy.check_push(Path(os.environ.get("GIT_DIR", ".")), updates, rules)
    except (OSError, subprocess.CalledProcessError) as exc:
        # The pusher sees this line; server paths and tracebacks stay out of it.
        print(f"hugbox: could not check the push ({type(exc).__name__})", file=sys.stderr)
        return 1
    for problem in verdict.problems:
        print(f"hugbox: {problem}", file=sys.stderr)
    if verdict.problems:
        return 1
    Path(os.environ[REPORT_VAR]).write_text(json.dumps({"pointers": verdict.pointers}))
    return 0


def admit(oids: set[str]) -> set[str]:
    """Those of `oids` the pusher may name, read from the hub's database (only pushes that
    name LFS objects pay for opening it)."""
    from hugbox.db import Database
    from hugbox.repos import objects

    database = Database(os.environ[DATABASE_VAR], pool_size=1, max_overflow=0)  # one query
    try:
        with database.session() as session:
            return objects.admissible_for(
                session, repo_pk=int(os.environ[REPO_VAR]), user_id=int(os.environ[USER_VAR]),
                oids=oids,
            )  # fmt: skip
    finally:
        database.close()


if __name__ == "__main__":
    sys.exit(main())
