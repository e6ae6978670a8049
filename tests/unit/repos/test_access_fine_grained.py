"""Fine-grained tokens on the one access question: the token must allow the permission and
the user must be allowed; without it a fine-grained token gets what a stranger gets.

Same table as test_access.py: one character per need (read, download, contribute, write,
upload as a PR, upload); `.` allowed, N RepoNotFound, G GatedRepo, F Forbidden.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from builders import Builder, open_database, open_store
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_access import outcomes

from hugbox import audit
from hugbox.auth import scopes
from hugbox.auth import service as auth
from hugbox.auth.last_use import TokenUses
from hugbox.auth.models import Token, TokenRole
from hugbox.auth.scopes import Permission
from hugbox.db import Database
from hugbox.errors import InvalidCredentials
from hugbox.repos import access
from hugbox.repos.models import Repo
from testdb import Template

REPO_WRITE, DISCUSS, READ = "{t}:{r}=repo.write", "discussion.write", "{t}:{r}=repo.content.read"
# The token of each caller: (user, scoped lines, global, canReadGatedRepos); "{t}:{r}" is the repo.
TOKENS = {
    "owner, nothing": ("owner", [], [], False),
    "owner, read this repo": ("owner", [READ], [], False),
    "owner, write this repo": ("owner", [REPO_WRITE], [], False),
    "owner, write + discuss": ("owner", [REPO_WRITE], [DISCUSS], False),
    "owner, write namespace": ("owner", ["user:owner=repo.write"], [], False),
    "owner, other repo": ("owner", ["model:owner/other=repo.write"], [], False),
    "owner, discuss only": ("owner", [], [DISCUSS], False),
    "stranger, owner's namespace": ("stranger", ["user:owner=repo.write"], [DISCUSS], False),
    "accepted, no gated": ("accepted", [], [], False),
    "accepted, gated": ("accepted", [], [], True),
}
# fmt: off
TABLE = {  #                        public    private   gated
    "owner, nothing":              ("..FFFF", "NNNNNN", "..FFFF"),
    "owner, read this repo":       ("..FFFF", "..FFFF", "..FFFF"),
    "owner, write this repo":      ("..F.F.", "..F.F.", "..F.F."),
    "owner, write + discuss":      ("......", "......", "......"),
    "owner, write namespace":      ("..F.F.", "..F.F.", "..F.F."),
    "owner, other repo":           ("..FFFF", "NNNNNN", "..FFFF"),
    "owner, discuss only":         ("...F.F", "NNNNNN", "...F.F"),
    "stranger, owner's namespace": ("...F.F", "NNNNNN", ".G.F.F"),
    "accepted, no gated":          ("..FFFF", "NNNNNN", ".GFFFF"),
    "accepted, gated":             ("..FFFF", "NNNNNN", "..FFFF"),
}
# fmt: on
KINDS = ("public", "private", "gated")


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, migrated_template: Template
) -> Iterator[tuple[Builder, dict[str, Repo], Database]]:
    directory = tmp_path_factory.mktemp("fine-grained")
    with open_database(directory, migrated_template) as database, database.session() as session:
        build = Builder(session, open_store(directory))
        owner, _, accepted = (build.user(n) for n in ("owner", "stranger", "accepted"))
        gates = {"private": (True, None), "gated": (False, "manual"), "public": (False, None)}
        repos = {
            kind: build.repo(owner, kind, private=private, gated=gate)
            for kind, (private, gate) in gates.items()
        }
        build.access_request(repos["gated"], accepted, status="accepted")
        yield build, repos, database


def fine_grained(session: Session, user: str, lines: list[str], glob: list[str],
                 gated: bool, repo: Repo | None = None) -> str:  # fmt: skip
    if repo is not None:
        lines = [line.format(t=repo.type.value, r=repo.repo_id) for line in lines]
    scope = scopes.from_lines(lines, global_=glob, gated=gated)
    return auth.create_token(
        session, user=user, name="fg", role=TokenRole.FINE_GRAINED, scope=scope
    )


@pytest.mark.parametrize("name", list(TABLE))
@pytest.mark.parametrize("kind", KINDS)
def test_fine_grained_callers(
    world: tuple[Builder, dict[str, Repo], Database], name: str, kind: str
) -> None:
    build, repos, _ = world
    (user, lines, glob, gated), rows = TOKENS[name], TABLE[name]
    repo = repos[kind]
    plain = fine_grained(build.session, user, lines, glob, gated, repo)
    # The ORM caller (most routes) and the Core one (model_info, file downloads) agree.
    caller = auth.authenticate(build.session, plain)
    bearer = auth.find_bearer(build.session.connection(), plain)
    want = rows[KINDS.index(kind)]
    assert outcomes(build.session, caller, repo) == want
    assert outcomes(build.session, bearer, repo) == want  # type: ignore[arg-type]


def test_may_asks_both_the_token_and_the_user(
    world: tuple[Builder, dict[str, Repo], Database],
) -> None:
    build, repos, _ = world
    private = repos["private"]
    plain = fine_grained(
        build.session, "stranger", [f"model:{private.repo_id}=repo.write"], [], False
    )
    stranger = auth.authenticate(build.session, plain)
    assert not access.may(
        stranger, Permission.REPO_WRITE, private
    )  # the token lists it; the user may not
    plain = fine_grained(
        build.session, "owner", ["user:owner=inference.serverless.write"], [], False
    )
    owner = auth.authenticate(build.session, plain)
    assert access.may(owner, Permission.INFERENCE, repos["public"])
    # Running a private model reads it: the token needs repo.content.read there too.
    assert not access.may(owner, Permission.INFERENCE, private)
    assert not access.may(owner, Permission.REPO_CONTENT_READ, private)


def test_an_expired_token_is_a_401_that_says_so(
    world: tuple[Builder, dict[str, Repo], Database],
) -> None:
    build, _, _ = world
    soon = datetime.now(UTC) + timedelta(seconds=60)
    plain = auth.create_token(
        build.session, user="owner", name="e", role=TokenRole.READ, expires_at=soon
    )
    auth.authenticate(build.session, plain)
    token = build.session.scalar(select(Token).where(Token.token_hash == auth.hash_token(plain)))
    assert token is not None
    token.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    build.session.flush()
    for check in (lambda: auth.authenticate(build.session, plain),
                  lambda: auth.find_bearer(build.session.connection(), plain)):  # fmt: skip
        with pytest.raises(InvalidCredentials) as error:
            check()
        assert error.value.status_code == 401 and "expired" in error.value.message
        assert "/settings/tokens" in error.value.message


def test_a_token_use_is_written_once_a_minute_and_a_new_address_is_audited(
    tmp_path: Path, migrated_template: Template
) -> None:
    with open_database(tmp_path, migrated_template) as database:
        with database.session() as session:  # TokenUses writes in transactions of its own
            Builder(session, open_store(tmp_path)).user("owner")
            plain = auth.create_token(session, user="owner", name="used", role=TokenRole.READ)
        with database.session() as session:
            token_id = auth.authenticate(session, plain).token.id  # type: ignore[union-attr]
        _check_uses(database, token_id)


def _check_uses(database: Database, token_id: int) -> None:
    uses = TokenUses(database)
    assert uses.due(token_id, "10.0.0.1") and not uses.due(token_id, "10.0.0.1")
    assert uses.due(token_id, "10.0.0.2")  # another address: due at once
    uses.write(token_id, "10.0.0.1")
    uses.write(token_id, "10.0.0.1")  # seen already: no second entry
    uses.write(token_id, "10.0.0.2")
    with database.session() as session:
        token = session.get(Token, token_id)
        assert token is not None and token.last_used_at is not None
        assert token.last_used_ip == "10.0.0.2"
        entries = session.scalars(
            select(audit.AuditEntry).where(audit.AuditEntry.action == "token.used_from_new_address")
        ).all()
        assert [(e.data["token_id"], e.actor) for e in entries] == [(token_id, "owner")] * 2
