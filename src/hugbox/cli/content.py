"""`hugbox import` and `hugbox demo`: put local folders into the hub."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.logging import RichHandler
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.auth.models import Account, AccountKind, Membership, OrgRole
from hugbox.auth.service import Caller, find_account
from hugbox.cli.context import DataDirOption, Operator, err, operator, unit_of_work
from hugbox.errors import NotFound
from hugbox.repos import importer, legacy, service
from hugbox.repos.models import Repo, RepoType


def _acting_user(session: Session, namespace: str) -> Account:
    """Imports are committed by the namespace's user, or by an admin of the org."""
    account = find_account(session, namespace)
    if account is None:
        raise NotFound(
            f"No user or org named {namespace!r}: create it first "
            f"(`hugbox user create` or `hugbox org create {namespace} --owner USER`)"
        )
    if account.kind == AccountKind.USER:
        return account
    admin = session.scalar(
        select(Account)
        .join(Membership, Membership.user_id == Account.id)
        .where(Membership.org_id == account.id, Membership.role == OrgRole.ADMIN)
    )
    if admin is None:
        raise NotFound(f"Org {namespace!r} has no admin to commit the import")
    return admin


def run_import(
    op: Operator, folder: Path, repo_id: str, repo_type: RepoType, *, private: bool
) -> str:
    plan = importer.plan_import(folder)
    with (
        Progress(
            TextColumn(f"[bold]{repo_id}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            console=err, transient=True,
        ) as progress,
        unit_of_work(op) as session,
    ):  # fmt: skip
        task = progress.add_task("import", total=plan.total_bytes)
        user = _acting_user(session, repo_id.partition("/")[0])
        repo, commit = importer.import_folder(
            session, op.store, caller=Caller(user=user), repo_type=repo_type, repo_id=repo_id,
            plan=plan, private=private, on_bytes=lambda n: progress.advance(task, n),
        )  # fmt: skip
    err.print(f"Imported {len(plan.files)} files into {repo.repo_id} at {commit[:10]}.")
    return commit


def import_legacy(
    op: Operator, folder: Path, legacy_id: str, repo_type: RepoType, *, private: bool
) -> str:
    """Import under a single-segment id (`gpt2`): the repo is stored as `legacy/gpt2` and `gpt2`
    leads to it on every route, as HF's legacy ids lead to their canonical ones."""
    with unit_of_work(op) as session:
        canonical = legacy.claim_legacy_id(session, repo_type=repo_type, legacy_id=legacy_id)
    commit = run_import(op, folder, canonical, repo_type, private=private)
    with unit_of_work(op) as session:
        repo = service.find_repo(session, repo_type, canonical)
        assert isinstance(repo, Repo)
        service.add_alias(session, repo=repo, alias=legacy_id)
    err.print(f"{legacy_id} leads to {canonical}.")
    return commit


def import_command(
    path: Path = typer.Argument(..., help="Folder to import.", exists=True, file_okay=False),
    repo_id: str = typer.Argument(
        ...,
        help="Target repo id: `namespace/name`, or a single segment such as `gpt2`, stored as "
        f"`{legacy.LEGACY_NAMESPACE}/gpt2` and reachable as `gpt2` (the org "
        f"`{legacy.LEGACY_NAMESPACE}` is created on first use, its admin the first site admin).",
    ),
    repo_type: RepoType = typer.Option(RepoType.MODEL, help="model, dataset or space."),
    private: bool = typer.Option(False, "--private", help="Create the repo private."),
    data_dir: DataDirOption = None,
) -> None:
    """Import a local folder as a repo (one commit; `.gitattributes` rules decide LFS)."""
    if repo_id.count("/") > 1 or "" in repo_id.split("/"):
        err.print("[red]error:[/red] REPO_ID must be `namespace/name` or `name`")
        raise typer.Exit(2)
    op = operator(data_dir)
    if "/" not in repo_id:
        typer.echo(import_legacy(op, path, repo_id, repo_type, private=private))
        return
    typer.echo(run_import(op, path, repo_id, repo_type, private=private))


def demo_command(data_dir: DataDirOption = None) -> None:
    """Seed the hub with demo content built from PyPI packages (cached after the first run)."""
    from hugbox.cli.demo import seed_demo

    # The builders report progress (training steps, conversions) through logging.
    handler = RichHandler(console=err, show_path=False)
    logging.basicConfig(level=logging.INFO, handlers=[handler], format="%(message)s")
    seed_demo(operator(data_dir))
