"""Legacy repo ids without a namespace (`gpt2`, `squad`): rewritten to their canonical id.

HF serves `gpt2` as `openai-community/gpt2`. Legacy names can never be account names, so a
single segment that is a known legacy id is unambiguous wherever a repo id stands in a URL.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.repos.models import Repo, RepoRedirect, RepoType

# Where a repo id stands: /api/models/<id>, /datasets/<id>, /<id> (models), the inference
# routes /models/<id>[@rev] and /pipeline/<task>/<id>, each followed by the rest of the path.
_PATTERNS = [
    (re.compile(r"^/api/(models|datasets|spaces)/([^/]+)(?=/|$)"), 2),
    (re.compile(r"^/(?:models|pipeline/[^/]+)/()([^/@]+)(?=[/@]|$)"), 2),
    (re.compile(r"^/(datasets|spaces)/([^/]+?)(?=\.git(?:/|$)|/|$)"), 2),
    (re.compile(r"^/()([^/]+?)(?=\.git(?:/|$)|/|$)"), 2),
]


def load_legacy_ids(session: Session) -> dict[tuple[str, str], str]:
    """{(type plural, legacy id lowercased): canonical id} for every namespace-less redirect."""
    rows = session.execute(
        select(RepoRedirect.type, RepoRedirect.old_id_lower, Repo.namespace, Repo.name)
        .join(Repo, Repo.pk == RepoRedirect.repo_pk)
        .where(RepoRedirect.old_id_lower.not_like("%/%"))
    )
    return {(f"{RepoType(t).value}s", old): f"{ns}/{name}" for t, old, ns, name in rows}


class LegacyIds:
    """The table of legacy ids, reloaded at most every `ttl` seconds (other replicas may add)."""

    def __init__(self, load: Callable[[], dict[tuple[str, str], str]], ttl: float = 5.0):
        self._load = load
        self._ttl = ttl
        self._table: dict[tuple[str, str], str] = {}
        self._loaded_at = float("-inf")

    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self._ttl

    def reload(self) -> None:
        self._table = self._load()
        self._loaded_at = time.monotonic()

    def rewrite(self, path: str) -> str:
        if not self._table:
            return path
        for pattern, group in _PATTERNS:
            match = pattern.match(path)
            if match is None:
                continue
            kind = match[1] or "models"
            canonical = self._table.get((kind, match[group].lower()))
            if canonical:
                return path[: match.start(group)] + canonical + path[match.end(group) :]
            return path
        return path
