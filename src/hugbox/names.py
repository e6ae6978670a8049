"""Naming rules shared by accounts and repos (HF's rules: letters, digits, `-`, `_`, `.`)."""

from __future__ import annotations

import re

from hugbox.errors import BadRequest

_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$")

# Path segments the URL map uses right where a namespace would stand.
RESERVED_NAMESPACES = frozenset(
    {
        "api", "models", "datasets", "spaces", "kernels", "buckets", "docs", "settings",
        "login", "logout", "join", "new", "organizations", "collections", "static", "oauth",
        "admin", "search", "pricing", "papers", "blog", "tasks", "inference", "v1", "health",
        "info", "git", "lfs", "pipeline", "metrics", "status", "resolve", "tree", "blob",
        "commit", "commits", "discussions",
    }
)  # fmt: skip


def check_name(name: str, *, what: str) -> str:
    """Return `name` if it is a valid account or repo name, else raise a 400 saying why."""
    if not _NAME_RE.match(name) or "--" in name or ".." in name or name.endswith(".git"):
        raise BadRequest(
            f"Invalid {what} name {name!r}: use letters, digits, '-', '_' and '.', start and end "
            "with a letter or digit, no '--' or '..', at most 96 characters"
        )
    return name


def check_namespace(name: str) -> str:
    check_name(name, what="account")
    if name.lower() in RESERVED_NAMESPACES:
        raise BadRequest(f"The name {name!r} is reserved")
    return name
