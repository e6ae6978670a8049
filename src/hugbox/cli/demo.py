"""`hugbox demo`: seed users, orgs and real repos built from PyPI packages."""

from __future__ import annotations

import typer
from sqlalchemy.orm import Session

from hugbox.auth import service as auth
from hugbox.auth.models import TokenRole
from hugbox.cli.content import run_import
from hugbox.cli.context import Operator, err, unit_of_work
from hugbox.repos import service as repos
from hugbox.repos.models import Repo, RepoType

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-password"  # noqa: S105  (a documented demo account, local only)


def seed_demo(op: Operator) -> None:
    from hugbox.demo import build_demo_repos

    cache = op.settings.data_dir / "demo-cache"
    demo_repos = build_demo_repos(cache, progress=lambda message: err.print(message))
    with unit_of_work(op) as session:
        _ensure_accounts(session, {r.repo_id.split("/")[0] for r in demo_repos})
    for demo in demo_repos:
        repo_type = RepoType(demo.repo_type)
        with unit_of_work(op) as session:
            exists = isinstance(repos.find_repo(session, repo_type, demo.repo_id), Repo)
        if exists:
            err.print(f"{demo.repo_id} is already there.")
        else:
            run_import(op, demo.folder, demo.repo_id, repo_type, private=False)
        with unit_of_work(op) as session:
            repo = repos.find_repo(session, repo_type, demo.repo_id)
            assert isinstance(repo, Repo)
            for alias in demo.aliases:
                repos.add_alias(session, repo=repo, alias=alias)
    with unit_of_work(op) as session:
        token = auth.create_token(session, user=DEMO_USER, name="demo", role=TokenRole.WRITE)
    err.print(f"Demo ready. User {DEMO_USER!r}, password {DEMO_PASSWORD!r}; a write token:")
    typer.echo(token)


def _ensure_accounts(session: Session, orgs: set[str]) -> None:
    if auth.find_account(session, DEMO_USER) is None:
        auth.create_user(session, name=DEMO_USER, password=DEMO_PASSWORD, is_admin=True)
    for org in sorted(orgs):
        if auth.find_account(session, org) is None:
            auth.create_org(session, name=org, owner=DEMO_USER)
