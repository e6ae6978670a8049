"""A token's scope: HF's permission names, parsed from whoami's shape, and what each allows."""

from __future__ import annotations

from typing import Any

import pytest

from hugbox.auth import scopes
from hugbox.auth.scopes import Permission, Scope, Target, token_allows
from hugbox.errors import BadRequest

ALICE_BERT = Target("alice", "model", "alice/bert")
ALICE = Target("alice")
ACME_DATA = Target("acme", "dataset", "acme/data")


def scope(*scoped: tuple[str, str, list[str]], glob: list[str] | None = None) -> Scope:
    return scopes.parse({
        "canReadGatedRepos": False,
        "global": glob or [],
        "scoped": [{"entity": {"type": t, "name": n}, "permissions": p} for t, n, p in scoped],
    })  # fmt: skip


def test_a_repo_permission_covers_that_repo_only() -> None:
    s = scope(("model", "Alice/Bert", ["repo.content.read"]))
    assert s.allows(Permission.REPO_CONTENT_READ, ALICE_BERT)  # names compare case-blind
    assert not s.allows(Permission.REPO_CONTENT_READ, Target("alice", "model", "alice/other"))
    assert not s.allows(Permission.REPO_CONTENT_READ, Target("alice", "dataset", "alice/bert"))
    assert not s.allows(Permission.REPO_WRITE, ALICE_BERT)
    assert not s.allows(Permission.REPO_CONTENT_READ, ALICE)  # not the namespace


def test_a_namespace_permission_covers_its_repos() -> None:
    s = scope(("org", "acme", ["repo.write"]))
    assert s.allows(Permission.REPO_WRITE, ACME_DATA)
    assert s.allows(Permission.REPO_WRITE, Target("acme"))
    assert not s.allows(Permission.REPO_WRITE, ALICE_BERT)


def test_write_implies_read_and_global_covers_everything() -> None:
    s = scope(("user", "alice", ["repo.write", "collection.write"]), glob=["discussion.write"])
    assert s.allows(Permission.REPO_CONTENT_READ, ALICE_BERT)
    assert s.allows(Permission.COLLECTION_READ, ALICE)
    assert s.allows(Permission.DISCUSSION_WRITE, ACME_DATA)
    assert s.allows(Permission.DISCUSSION_WRITE, None)
    assert not s.allows(Permission.WEBHOOKS_READ, ALICE)


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        (None, Permission.REPO_WRITE, True),  # no token: a browser session or the operator
        ("write", Permission.WEBHOOKS_WRITE, True),
        ("read", Permission.REPO_CONTENT_READ, True),
        ("read", Permission.INFERENCE, True),
        ("read", Permission.REPO_WRITE, False),
        ("read", Permission.DISCUSSION_WRITE, False),
        ("fineGrained", Permission.REPO_CONTENT_READ, False),  # without a scope: nothing
    ],
)
def test_roles(role: str | None, permission: str, allowed: bool) -> None:
    assert token_allows(role, None, permission, ALICE_BERT) is allowed


def test_whoami_shape_round_trips() -> None:
    body = {
        "canReadGatedRepos": True,
        "global": ["discussion.write"],
        "scoped": [
            {"entity": {"type": "model", "name": "alice/bert"},
             "permissions": ["repo.content.read", "repo.write"]},
            {"entity": {"type": "user", "name": "alice"}, "permissions": ["webhooks.write"]},
        ],
    }  # fmt: skip
    parsed = scopes.parse(body)
    assert parsed.as_json() == body
    assert scopes.load(scopes.dump(parsed)) == parsed


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"canReadGatedRepos": "yes"},
        {"global": "discussion.write"},
        {"global": ["repo.write"]},  # HF lists only discussion.write and post.write globally
        {"scoped": {}},
        {"scoped": [{"permissions": ["repo.write"]}]},
        {"scoped": [{"entity": {"type": "team", "name": "x"}, "permissions": []}]},
        {"scoped": [{"entity": {"type": "model", "name": "no-slash"}, "permissions": []}]},
        {"scoped": [{"entity": {"type": "user", "name": ""}, "permissions": []}]},
        {"scoped": [{"entity": {"type": "user", "name": "a"}, "permissions": ["repo.admin"]}]},
        {"scoped": [{"entity": {"type": "user", "name": "a"}, "permissions": "repo.write"}]},
    ],
)
def test_malformed_scopes_are_a_400(body: Any) -> None:
    with pytest.raises(BadRequest):
        scopes.parse(body)


def test_lines_as_the_cli_and_the_page_write_them() -> None:
    s = scopes.from_lines(["model:alice/bert=repo.content.read, repo.write"], gated=True)
    assert s.can_read_gated and s.allows(Permission.REPO_WRITE, ALICE_BERT)
    with pytest.raises(BadRequest):
        scopes.from_lines(["model alice/bert"])
