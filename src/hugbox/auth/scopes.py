"""What a token may do: HF's permission names, and the scope a fine-grained token carries.

A read or write token's scope is its role; a fine-grained token lists permissions globally and
per entity (a user or org namespace, or one repo). The scope only says what the token allows:
what its user may do on a repo is `repos.access`'s question, and a caller needs both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import orjson

from hugbox.errors import BadRequest


class Permission(StrEnum):
    """HF's permission names (`security-tokens.md`; whoami's `fineGrained.scoped[].permissions`)."""

    REPO_CONTENT_READ = "repo.content.read"
    REPO_WRITE = "repo.write"
    DISCUSSION_WRITE = "discussion.write"
    INFERENCE = "inference.serverless.write"
    COLLECTION_READ = "collection.read"
    COLLECTION_WRITE = "collection.write"
    WEBHOOKS_READ = "webhooks.read"
    WEBHOOKS_WRITE = "webhooks.write"
    USER_BILLING_READ = "user.billing.read"
    POST_WRITE = "post.write"


# What a read token allows: reading what its user can read, and calling the Inference API
# (HF's `security-tokens.md`); nothing that changes anything.
READ_ROLE = frozenset(
    {Permission.REPO_CONTENT_READ, Permission.COLLECTION_READ, Permission.WEBHOOKS_READ,
     Permission.USER_BILLING_READ, Permission.INFERENCE}
)  # fmt: skip
# Who may write may read: HF's form checks the read box with the write one.
_IMPLIED_BY = {
    Permission.REPO_CONTENT_READ: Permission.REPO_WRITE,
    Permission.COLLECTION_READ: Permission.COLLECTION_WRITE,
    Permission.WEBHOOKS_READ: Permission.WEBHOOKS_WRITE,
}
# Entities a permission can be scoped to: a namespace, or one repo.
ENTITY_TYPES = ("user", "org", "model", "dataset", "space")
# HF lists only these under `global` (community-plans §4.5).
GLOBAL_PERMISSIONS = frozenset({Permission.DISCUSSION_WRITE, Permission.POST_WRITE})


@dataclass(frozen=True, slots=True)
class Target:
    """What a permission is asked on: a repo (type and id), or a namespace alone."""

    namespace: str
    repo_type: str | None = None  # "model", "dataset", "space"
    repo_id: str | None = None

    def entities(self) -> tuple[tuple[str, str], ...]:
        """The entities whose permissions cover this target: the repo, then its namespace
        (as either kind of account: a scope names the kind it was created for)."""
        space = self.namespace.lower()
        own = ((self.repo_type, self.repo_id.lower()),) if self.repo_type and self.repo_id else ()
        return (*own, ("user", space), ("org", space))


@dataclass(frozen=True, slots=True)
class Scope:
    """A fine-grained token's permissions, in whoami's shape once parsed."""

    can_read_gated: bool = False
    global_: frozenset[str] = frozenset()
    # (entity type, lowercased name) → permissions; `names` keeps the names as written.
    scoped: Mapping[tuple[str, str], frozenset[str]] | None = None
    names: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def allows(self, permission: str, target: Target | None) -> bool:
        if self._lists(permission, target):
            return True
        stronger = _IMPLIED_BY.get(permission)  # type: ignore[call-overload]
        return stronger is not None and self._lists(stronger, target)

    def _lists(self, permission: str, target: Target | None) -> bool:
        if permission in self.global_:
            return True
        if target is None or not self.scoped:
            return False
        return any(permission in self.scoped.get(key, ()) for key in target.entities())

    def readable(self) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
        """Where the token reads repo contents, for listings: the namespaces (lowercased) and
        the repos, as (repo type, lowercased id), whose permissions allow it."""
        reads = {Permission.REPO_CONTENT_READ, _IMPLIED_BY[Permission.REPO_CONTENT_READ]}
        covered = [key for key, perms in (self.scoped or {}).items() if perms & reads]
        namespaces = frozenset(name for kind, name in covered if kind in ("user", "org"))
        return namespaces, frozenset(key for key in covered if key[0] not in ("user", "org"))

    def as_json(self) -> dict[str, Any]:
        """whoami's `fineGrained` object."""
        return {
            "canReadGatedRepos": self.can_read_gated,
            "global": sorted(self.global_),
            "scoped": [
                {"entity": {"type": kind, "name": name}, "permissions": list(perms)}
                for kind, name, perms in self.names
            ],
        }


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"`{what}` must be a list of strings")
    return value


def _permissions(values: Iterable[str], allowed: Iterable[str], what: str) -> tuple[str, ...]:
    allowed = set(allowed)
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise BadRequest(f"Unknown {what} permission(s): {', '.join(unknown)}")
    return tuple(sorted(set(values)))


def parse(body: Any) -> Scope:
    """A `fineGrained` object (whoami's shape) as a `Scope`; a malformed one is a 400."""
    if not isinstance(body, dict):
        raise BadRequest("`fineGrained` must be an object")
    gated = body.get("canReadGatedRepos", False)
    if not isinstance(gated, bool):
        raise BadRequest("`canReadGatedRepos` must be true or false")
    global_ = _permissions(_strings(body.get("global", []), "global"), GLOBAL_PERMISSIONS, "global")
    entries = body.get("scoped", [])
    if not isinstance(entries, list):
        raise BadRequest("`scoped` must be a list")
    names = tuple(_entry(entry) for entry in entries)
    scoped: dict[tuple[str, str], frozenset[str]] = {}
    for kind, name, perms in names:
        key = (kind, name.lower())
        scoped[key] = scoped.get(key, frozenset()) | frozenset(perms)
    return Scope(gated, frozenset(global_), scoped, names)


def _entry(entry: Any) -> tuple[str, str, tuple[str, ...]]:
    entity = entry.get("entity") if isinstance(entry, dict) else None
    if not isinstance(entity, dict):
        raise BadRequest("Each `scoped` entry needs an `entity` with a `type` and a `name`")
    kind, name = entity.get("type"), entity.get("name")
    if kind not in ENTITY_TYPES or not isinstance(name, str) or not 0 < len(name) <= 200:
        raise BadRequest(f"An entity is a type among {', '.join(ENTITY_TYPES)} and a name")
    if kind in ("model", "dataset", "space") and name.count("/") != 1:
        raise BadRequest(f"A {kind} entity is named `namespace/name`, not {name!r}")
    perms = _permissions(_strings(entry.get("permissions"), "permissions"), Permission, "scoped")
    return kind, name, perms


@lru_cache(maxsize=4096)
def load(stored: str) -> Scope:
    """The scope stored as JSON on a token (parsed once per distinct value: every request of a
    fine-grained token asks)."""
    return parse(orjson.loads(stored))


def dump(scope: Scope) -> str:
    return orjson.dumps(scope.as_json()).decode()


def token_allows(
    role: str | None, scope: Scope | None, permission: str, target: Target | None
) -> bool:
    """Whether a token of `role` (None: no token, or a browser's session) allows `permission`
    on `target`, whatever its user may do there."""
    if role is None or role == "write":
        return True
    if role == "read":
        return permission in READ_ROLE
    return scope is not None and scope.allows(permission, target)


def from_lines(
    entries: Iterable[str], *, global_: Iterable[str] = (), gated: bool = False
) -> Scope:
    """A scope from `type:name=perm,perm` lines (the CLI's and the tokens page's words)."""
    scoped = []
    for entry in entries:
        entity, sep, perms = entry.partition("=")
        kind, _, name = entity.strip().partition(":")
        if not sep or not name:
            raise BadRequest(f"Write a permission as `type:name=perm,perm`, not {entry!r}")
        listed = [p.strip() for p in perms.split(",") if p.strip()]
        scoped.append({"entity": {"type": kind, "name": name.strip()}, "permissions": listed})
    return parse({"canReadGatedRepos": gated, "global": list(global_), "scoped": scoped})
