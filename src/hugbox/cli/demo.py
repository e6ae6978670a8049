"""`hugbox demo`: seed users, orgs and real repos built from PyPI packages."""

from __future__ import annotations

import secrets

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
DEMO_ADMIN = "hubadmin"  # `admin` is a reserved namespace (a web route)


def seed_demo(op: Operator) -> None:
    from hugbox.demo import build_demo_repos

    cache = op.settings.data_dir / "demo-cache"
    demo_repos = build_demo_repos(cache, progress=lambda message: err.print(message))
    with unit_of_work(op) as session:
        admin_password = ensure_accounts(session, {r.repo_id.split("/")[0] for r in demo_repos})
    if admin_password is not None:
        err.print(f"Site admin {DEMO_ADMIN!r} created, password {admin_password!r} (shown once).")
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


def ensure_accounts(session: Session, orgs: set[str]) -> str | None:
    """`demo` is an ordinary user, so a newcomer meets the permission errors anyone would; a
    separate site admin owns the seeded orgs. Returns the admin's password when just created."""
    password = None
    if auth.find_account(session, DEMO_ADMIN) is None:
        password = secrets.token_urlsafe(12)
        auth.create_user(session, name=DEMO_ADMIN, password=password, is_admin=True)
    demo = auth.find_account(session, DEMO_USER)
    if demo is None:
        auth.create_user(session, name=DEMO_USER, password=DEMO_PASSWORD)
    else:
        demo.is_admin = False  # data dirs seeded when `demo` was the site admin
    for org in sorted(orgs):
        if auth.find_account(session, org) is None:
            auth.create_org(session, name=org, owner=DEMO_ADMIN)
    return password
