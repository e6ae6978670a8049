"""Naming rules shared by accounts, repos and revisions: huggingface_hub's `validate_repo_id`
(letters, digits, `-`, `_`, `.`; a word character first and last; no `--` or `..`)."""

from __future__ import annotations

import re
from urllib.parse import unquote

from hugbox.errors import BadRequest

# Its regex bounds a name by word boundaries, so `_` may start one: `__DUMMY_HUB_USER__` is valid.
_NAME_RE = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$")
# A ref is a file in the bare repo, so its name is bounded like one (NAME_MAX); libgit2 itself
# refuses names past 1024 bytes with an error of its own. So is each name in a file's path:
# checkouts (inference snapshots, spaces, git clones) write it to a file system.
MAX_REVISION_BYTES = 255
MAX_NAME_BYTES = 255
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1

# Path segments the URL map uses right where a namespace would stand.
RESERVED_NAMESPACES = frozenset(
    {
        "api", "models", "datasets", "spaces", "kernels", "buckets", "docs", "settings",
        "login", "logout", "join", "new", "organizations", "collections", "static", "oauth",
        "admin", "search", "pricing", "papers", "blog", "tasks", "inference", "v1", "health",
        "info", "git", "lfs", "pipeline", "metrics", "status", "resolve", "tree", "blob",
        "commit", "commits", "discussions", "ready", "notifications",
    }
)  # fmt: skip


def repo_id(namespace: str, name: str) -> str:
    """`namespace/name` from a URL's path segments (percent-encoded as routes receive them); a
    pinned revision (`name@sha`) is not part of the id."""
    return f"{unquote(str(namespace))}/{unquote(str(name)).partition('@')[0]}"


def check_name(name: str, *, what: str) -> str:
    """Return `name` if it is a valid account or repo name, else raise a 400 saying why."""
    if not _NAME_RE.match(name) or "--" in name or ".." in name or name.endswith(".git"):
        raise BadRequest(
            f"Invalid {what} name {name!r}: use letters, digits, '-', '_' and '.', start and end "
            "with a letter, digit or '_', no '--' or '..', at most 96 characters"
        )
    return name


def check_namespace(name: str) -> str:
    check_name(name, what="account")
    if name.lower() in RESERVED_NAMESPACES:
        raise BadRequest(f"The name {name!r} is reserved")
    return name


def has_control(text: str) -> bool:
    """Whether `text` holds a C0 or C1 control character (NUL included) or DEL."""
    return CONTROL_CHARACTERS.search(text) is not None


def check_revision(revision: str) -> str:
    """Return `revision` if git may be asked about it, else raise a 400. libgit2 reads names
    as C strings: `main\\x00x` would be `main`, and a delete would take the wrong branch."""
    size = len(revision.encode("utf-8", "replace"))
    if not revision or has_control(revision) or size > MAX_REVISION_BYTES:
        raise BadRequest(
            f"Invalid revision {revision[:100]!r}: it must be 1 to {MAX_REVISION_BYTES} bytes "
            "without control characters"
        )
    return revision
