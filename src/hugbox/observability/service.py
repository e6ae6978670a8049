"""Readiness: can this process serve requests now (its database answers, its storage is there)."""

from __future__ import annotations

import logging
import os

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hugbox.context import Context
from hugbox.db import schema_revision, schema_revisions
from hugbox.errors import ServiceUnavailable

log = logging.getLogger(__name__)


class NotReady(ServiceUnavailable):
    error_code = "NotReady"


def check_ready(context: Context) -> dict[str, str]:
    """ "ok" for each dependency, or raise `NotReady` naming every one that failed."""
    checks = {"database": _check_database(context), "storage": _check_storage(context)}
    failed = {name: result for name, result in checks.items() if result != "ok"}
    if failed:
        log.warning("not ready: %s", failed)
        details = "; ".join(f"{name}: {result}" for name, result in failed.items())
        raise NotReady(f"Not ready: {details}")
    return checks


def _check_database(context: Context) -> str:
    try:
        with context.database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            revision = schema_revision(connection)
    except SQLAlchemyError as error:
        # The answer is public: it names the kind of failure, the log has the driver's words.
        cause = getattr(error, "orig", None) or error
        log.warning("readiness: the database did not answer: %s", cause)
        return f"unreachable ({type(cause).__name__})"
    return _check_schema(revision)


def _check_schema(revision: str | None) -> str:
    """A replica started without `hugbox migrate` on a database that lags behind its code would
    fail on the first query of a new column. A revision this code does not know is newer: a
    replica of the next release migrated it, and this one keeps serving through the rollout."""
    known = schema_revisions()
    if revision is None:
        return "not migrated: run `hugbox migrate`"
    if revision in known and revision != known[-1]:
        return f"schema at {revision}, this hub needs {known[-1]}: run `hugbox migrate`"
    return "ok"


def _check_storage(context: Context) -> str:
    """The repos (and, without a bucket, the large files) live in directories, a shared volume at
    scale: a volume that is not mounted, or mounted read-only, shows here rather than on the
    first upload. A bucket is asked about an object that does not exist, which costs one HEAD."""
    settings = context.settings
    folders = [("repos", settings.repos_dir)]
    if not settings.blob_url:
        folders.append(("blobs", settings.blobs_dir))
    for name, path in folders:
        if not path.is_dir():
            return f"{name} directory {path} is missing"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"{name} directory {path} is not writable"
    try:
        context.blobs.exists(_NO_SUCH_OBJECT)
    except Exception as error:  # any client's own error: the store did not answer
        log.warning("readiness: the blob store did not answer: %s", error)
        return f"blob store unreachable ({type(error).__name__})"
    return "ok"


_NO_SUCH_OBJECT = "0" * 64
