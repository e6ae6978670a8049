"""What "require SSO" adds to the access check of the hot read routes (`model_info`, each file's
HEAD), measured as those routes do it (`RepoLoader`: the bearer and the repo's row in one
statement, then `authorize`), with and without the SSO hook, on the same SQLite database in the
same run. Cases: a public repo (the hook returns at once), a private org repo of an org without
SSO (one lookup), and of an org that requires SSO, read with a token whose user signed in
through it (two lookups: the worst case).

Run: PYTHONPATH=src .venv/bin/python bench/sso_check.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from hugbox.auth import service as auth
from hugbox.auth.models import OrgRole, TokenRole
from hugbox.db import Database, migrate
from hugbox.repos import service as repos
from hugbox.repos.models import RepoType
from hugbox.repos.service import Need
from hugbox.repos.store import RepoStore
from hugbox.sso import service as sso
from hugbox.sso.access import RequireSso
from hugbox.storage.blobs import LocalBlobStore

ROUNDS, CALLS = 7, 2000


def _seed(database: Database, store: RepoStore) -> str:
    with database.session() as session:
        owner = auth.create_user(session, name="owner", password="pw")  # noqa: S106 - a bench user
        auth.create_user(session, name="member", password="pw")  # noqa: S106 - a bench user
        for org in ("plain", "strict"):
            auth.create_org(session, name=org, owner="owner")
            auth.add_member(session, org=org, user="member", role=OrgRole.READ)
            session.expire(owner, ["memberships"])  # the org just made
            caller = auth.Caller(user=owner)
            for name, private in (("open", False), ("m", True)):
                repos.create_repo(session, store, caller=caller, repo_type=RepoType.MODEL,
                                  namespace=org, name=name, private=private)  # fmt: skip
        strict = auth.get_account(session, "strict")
        values = sso.ConfigInput("https://idp.example", "hub", "s", require_sso=True)
        config = sso.configure(
            session, org=strict, values=values, actor="owner", server_secret=b"k"
        )
        member = auth.get_account(session, "member")
        sso.sign_in(session, org=strict, config=config, claims={"sub": "m"}, current=member)
        return auth.create_token(session, user="member", name="bench", role=TokenRole.READ)


def _timed(call: Callable[[], None]) -> float:
    """Median microseconds per call over `ROUNDS` rounds of `CALLS` calls."""
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(CALLS):
            call()
        rounds.append((time.perf_counter() - start) / CALLS * 1e6)
    return statistics.median(rounds)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'hub.db'}"
        migrate(url)
        database = Database(url)
        store = RepoStore(repos_dir=Path(tmp) / "repos", blobs=LocalBlobStore(Path(tmp) / "lfs"),
                          tmp_dir=Path(tmp) / "tmp")  # fmt: skip
        token = _seed(database, store)
        hook = RequireSso(max_age=timedelta(hours=12)).check_repo
        with database.engine.connect() as connection:
            for repo_id in ("plain/open", "plain/m", "strict/m"):

                def check(with_hook: bool, repo_id: str = repo_id) -> None:
                    bearer, found = repos.find_bearer_and_record(
                        connection, token, RepoType.MODEL, repo_id
                    )
                    assert found is not None
                    repos.authorize(connection, bearer, found, Need.READ)
                    if with_hook:
                        hook(connection, bearer, found)

                base, hooked = _timed(lambda: check(False)), _timed(lambda: check(True))
                print(
                    f"{repo_id:12} access check {base:7.1f} µs, with the SSO hook "
                    f"{hooked:7.1f} µs: ratio {hooked / base:.2f} (+{hooked - base:.1f} µs)"
                )
        database.close()


if __name__ == "__main__":
    main()
