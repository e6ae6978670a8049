"""The shared context a process builds once from its settings: the database, the repo store (with
the blob store under it) and the secret key. The app, the operator CLI and the spaces host all
start here, so the parts are assembled in one place."""

from __future__ import annotations

from dataclasses import dataclass

from hugbox.db import Database
from hugbox.repos.store import RepoStore
from hugbox.settings import Settings
from hugbox.signing import load_secret
from hugbox.xet.blobs import XetBlobStore, open_blob_store


@dataclass(frozen=True)
class Context:
    settings: Settings
    database: Database
    store: RepoStore
    blobs: XetBlobStore  # the store's own blob store, as the Xet service needs it
    secret: bytes  # signs URLs and session cookies (settings' key, or one kept in the data dir)

    def close(self) -> None:
        """Give back what the context holds open (the database's pooled connections)."""
        self.database.close()


def build_context(settings: Settings) -> Context:
    """Open the database and the stores that `settings` name (nothing is migrated here)."""
    blobs = open_blob_store_for(settings)
    store = RepoStore(repos_dir=settings.repos_dir, blobs=blobs, tmp_dir=settings.tmp_dir)
    secret = load_secret(settings.secret_key.get_secret_value(), settings.data_dir)
    database = Database(
        settings.sqlalchemy_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_overflow,
    )
    return Context(settings, database, store, blobs, secret)


def open_blob_store_for(settings: Settings) -> XetBlobStore:
    """The blob store `settings` name: the data dir's, or a bucket's with a local cache."""
    return open_blob_store(
        settings.blobs_dir, settings.xet_dir, blob_url=settings.blob_url,
        cache_dir=settings.cache_dir, cache_bytes=settings.blob_cache_bytes,
    )  # fmt: skip
