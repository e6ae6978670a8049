"""Fine-grained tokens as stock huggingface_hub and git use them against a live hub.

The matrix: each permission (reading a private repo, committing, branching, discussions and
comments, inference, likes, collections, webhooks) against each kind of token (read, write,
fine-grained with it, fine-grained without it, fine-grained for another repo, expired): allowed,
or refused with the status HF gives (a private repo one may not read stays a 404).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError
from sqlalchemy import select

from hugbox.auth import scopes
from hugbox.auth import service as auth
from hugbox.auth.models import Token, TokenRole
from hugbox.db import Database
from hugbox.settings import Settings
from support import Hub, unique
from testdb import data_dir_env

pytestmark = pytest.mark.compat

Call = Callable[[HfApi, str, Hub], object]


def _inference(api: HfApi, repo_id: str, hub: Hub) -> object:
    """The Inference API route; the repo holds no model, so an allowed call fails later, with
    an error that is not about the token."""
    answer = httpx.post(f"{hub.endpoint}/models/{repo_id}", json={"inputs": "hi"},
                        headers={"authorization": f"Bearer {api.token}"}, timeout=60)  # fmt: skip
    return _refused_or(answer)


def _refused_or(answer: httpx.Response) -> httpx.Response:
    """A refusal as the client's error (HfApi has no call for these routes)."""
    if answer.status_code in (401, 403, 404):
        message = answer.headers.get("x-error-message", "")
        raise HfHubHTTPError(message, response=answer)  # type: ignore[arg-type]
    return answer


def _like(api: HfApi, repo_id: str, hub: Hub) -> object:
    """The web UI's like: huggingface_hub has no `like()`."""
    answer = httpx.post(f"{hub.endpoint}/api/models/{repo_id}/like",
                        headers={"authorization": f"Bearer {api.token}"})  # fmt: skip
    return _refused_or(answer)


OPERATIONS: dict[str, tuple[Call, str]] = {  # name: (call, what the "with it" token lists)
    "read private": (lambda api, r, hub: api.model_info(r), ""),
    "commit": (
        lambda api, r, hub: api.create_commit(
            r, [CommitOperationAdd(f"{unique()}.txt", b"x")], commit_message="fg"
        ),
        "model:{r}=repo.write",
    ),
    "branch": (
        lambda api, r, hub: api.create_branch(r, branch=unique("b")),
        "model:{r}=repo.write",
    ),
    "discussion": (
        lambda api, r, hub: api.create_discussion(r, title="from a fine-grained token"),
        "global",
    ),
    "comment": (lambda api, r, hub: api.comment_discussion(r, 1, "fg"), "global"),
    "inference": (_inference, "user:alice=inference.serverless.write"),
    "like": (_like, "model:{r}=discussion.write"),
    "collection": (
        lambda api, r, hub: api.create_collection(unique("c")),
        "user:alice=collection.write",
    ),
    "webhook": (
        lambda api, r, hub: api.create_webhook(
            url="https://hooks.example.com/fg", watched=[{"type": "model", "name": r}]
        ),
        "user:alice=webhooks.write",
    ),
}
REPO_OPS = {"read private", "commit", "branch", "discussion", "comment", "inference", "like"}
KINDS = ("read", "write", "with it", "without it", "other repo", "expired")


def expected(operation: str, kind: str) -> int | None:
    """None: allowed; else the status of the refusal."""
    if kind == "write" or kind == "with it":
        return None
    if kind == "expired":
        return 401
    if kind == "read":
        return None if operation in ("read private", "inference") else 403
    if kind == "without it" and operation == "read private":
        return 404
    if kind == "other repo" and operation in REPO_OPS:
        return 404  # the private repo stays unseen
    return 403


@pytest.fixture(scope="module")
def database(hub: Hub) -> Iterator[Database]:
    """The hub's own database: tokens are made here, in process (the CLI, `hugbox token create
    --role fineGrained`, takes seconds a call; test_operator_cli covers it)."""
    url = data_dir_env(hub.data_dir).get("HUGBOX_DATABASE_URL")
    database = Database(url or Settings(data_dir=hub.data_dir).sqlalchemy_url)
    yield database
    database.close()


def fine_grained(database: Database, *lines: str, glob: str = "", expires: bool = False) -> str:
    scope = scopes.from_lines(lines, global_=[glob] if glob else [])
    expires_at = datetime.now(UTC) + timedelta(days=1) if expires else None
    with database.session() as session:
        return auth.create_token(
            session, user="alice", name=unique("fg"), role=TokenRole.FINE_GRAINED, scope=scope,
            expires_at=expires_at,
        )  # fmt: skip


def expire(database: Database, token: str) -> None:
    """Move a token's expiry into the past, as time would (creation refuses a past date)."""
    past = datetime.now(UTC) - timedelta(minutes=1)
    with database.session() as session:
        row = session.scalar(select(Token).where(Token.token_hash == auth.hash_token(token)))
        assert row is not None
        row.expires_at = past


@pytest.fixture(scope="module")
def private_repo(hub: Hub) -> str:
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = api.create_repo(f"alice/{unique('fg')}", private=True).repo_id
    api.upload_file(path_or_fileobj=b"v1", path_in_repo="a.txt", repo_id=repo_id)
    api.create_discussion(repo_id, title="the first")
    api.create_repo(f"alice/{unique('other')}", private=True)
    return repo_id


def token_of(db: Database, hub: Hub, kind: str, operation: str, repo_id: str) -> str:
    read = f"model:{repo_id}=repo.content.read"
    listed = OPERATIONS[operation][1].format(r=repo_id)
    if kind in ("read", "write"):
        return hub.alice_read if kind == "read" else hub.alice
    if kind == "with it":  # what the operation needs, and reading the repo it acts on
        if listed == "global":
            return fine_grained(db, read, glob="discussion.write")
        return fine_grained(db, *[line for line in (read, listed) if line])
    if kind == "without it":  # reads the repo, and nothing else
        return fine_grained(db) if operation == "read private" else fine_grained(db, read)
    if kind == "other repo":
        every = "repo.content.read,repo.write,discussion.write,inference.serverless.write"
        other = repo_id.replace("/fg-", "/other-")
        return fine_grained(db, f"model:{other}={every}")
    listed = read if listed in ("", "global") else listed
    token = fine_grained(db, read, listed, glob="discussion.write", expires=True)
    expire(db, token)
    return token


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_the_matrix(
    database: Database, hub: Hub, private_repo: str, operation: str, kind: str
) -> None:
    token = token_of(database, hub, kind, operation, private_repo)
    call = OPERATIONS[operation][0]
    api = HfApi(endpoint=hub.endpoint, token=token)
    want = expected(operation, kind)
    if want is None:
        call(api, private_repo, hub)
        return
    with pytest.raises(HfHubHTTPError) as error:
        call(api, private_repo, hub)
    response = error.value.response
    assert response.status_code == want, (response.status_code, response.text)
    if kind == "expired":
        assert "expired" in response.headers.get("x-error-message", response.text)


def test_whoami_has_hfs_fine_grained_shape(database: Database, hub: Hub, private_repo: str) -> None:
    token = fine_grained(database, f"model:{private_repo}=repo.content.read,repo.write",
                         "user:alice=inference.serverless.write", glob="discussion.write",
                         expires=True)  # fmt: skip
    info = HfApi(endpoint=hub.endpoint, token=token).whoami()
    access = info["auth"]["accessToken"]
    assert access["role"] == "fineGrained"
    assert access["expiration"].endswith("Z") and access["createdAt"].endswith("Z")
    assert access["fineGrained"] == {
        "canReadGatedRepos": False,
        "global": ["discussion.write"],
        "scoped": [
            {"entity": {"type": "model", "name": private_repo},
             "permissions": ["repo.content.read", "repo.write"]},
            {"entity": {"type": "user", "name": "alice"},
             "permissions": ["inference.serverless.write"]},
        ],
    }  # fmt: skip
    hf_cli = str(Path(sys.executable).parent / "hf")
    hf = subprocess.run([hf_cli, "auth", "whoami"], capture_output=True, text=True, timeout=120,
                        env={**_env(hub), "HF_TOKEN": token}, check=False)  # fmt: skip
    assert hf.returncode == 0 and "alice" in hf.stdout, hf.stderr


def test_listings_show_only_the_private_repos_the_token_reads(database: Database, hub: Hub) -> None:
    """A private repo a token may not read stays as unseen in listings as for a stranger."""
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    one, two = (api.create_repo(unique("alice/fgl"), private=True).repo_id for _ in range(2))
    public = api.create_repo(unique("alice/pub")).repo_id

    def listed(token: str) -> set[str]:
        found = HfApi(endpoint=hub.endpoint, token=token).list_models(author="alice")
        return {m.id for m in found} & {one, two, public}

    assert listed(hub.alice_read) == {one, two, public}
    assert listed(fine_grained(database, f"model:{one}=repo.content.read")) == {one, public}
    assert listed(fine_grained(database, f"model:{two}=repo.write")) == {two, public}
    assert listed(fine_grained(database, "user:alice=repo.content.read")) == {one, two, public}
    assert listed(fine_grained(database, "user:alice=discussion.write")) == {public}
    assert listed(fine_grained(database)) == {public}


def _env(hub: Hub) -> dict[str, str]:
    import os

    return {**os.environ, "HF_ENDPOINT": hub.endpoint}


def test_login_stores_a_fine_grained_token(database: Database, hub: Hub, tmp_path: Path) -> None:
    token = fine_grained(database, glob="discussion.write")
    code = "from huggingface_hub import login, whoami; login(token=%r); print(whoami()['name'])"
    env = {**_env(hub), "HF_HOME": str(tmp_path)}
    ran = subprocess.run([sys.executable, "-c", code % token], capture_output=True, text=True,
                         env=env, timeout=120, check=False)  # fmt: skip
    assert ran.returncode == 0 and ran.stdout.strip().endswith("alice"), ran.stderr


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                          check=False)  # fmt: skip


def test_git_clone_and_push_with_a_fine_grained_token(
    database: Database, hub: Hub, private_repo: str, tmp_path: Path
) -> None:
    db = database
    host = urlsplit(hub.endpoint).netloc
    reader = fine_grained(db, f"model:{private_repo}=repo.content.read")
    writer = fine_grained(db, f"model:{private_repo}=repo.write")
    elsewhere = fine_grained(db, "model:alice/nothing-here=repo.write")
    url = "http://alice:{}@" + host + "/" + private_repo
    assert _git("clone", url.format(elsewhere), str(tmp_path / "no")).returncode != 0
    clone = tmp_path / "clone"
    assert _git("clone", url.format(reader), str(clone)).returncode == 0
    (clone / "pushed.txt").write_text("by git")
    _git("-c", "user.name=a", "-c", "user.email=a@x", "add", "pushed.txt", cwd=clone)
    assert (
        _git("-c", "user.name=a", "-c", "user.email=a@x", "commit", "-m", "p", cwd=clone).returncode
        == 0
    )
    refused = _git("push", url.format(reader), "HEAD:main", cwd=clone)
    assert refused.returncode != 0 and "403" in refused.stderr + refused.stdout
    assert _git("push", url.format(writer), "HEAD:main", cwd=clone).returncode == 0
    files = HfApi(endpoint=hub.endpoint, token=hub.alice).list_repo_files(private_repo)
    assert "pushed.txt" in files


def test_an_expired_token_gets_the_401_clients_understand(database: Database, hub: Hub) -> None:
    token = fine_grained(database, glob="discussion.write", expires=True)
    expire(database, token)
    answer = httpx.get(
        f"{hub.endpoint}/api/whoami-v2", headers={"authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 401
    assert "expired" in answer.headers["x-error-message"]
    assert "/settings/tokens" in answer.headers["x-error-message"]
