"""`hugbox user|org|token …`: manage accounts and access tokens."""

from __future__ import annotations

from datetime import timedelta

import typer

from hugbox.auth import scopes, service
from hugbox.auth.models import OrgRole, TokenRole
from hugbox.cli.context import DataDirOption, err, operator, unit_of_work
from hugbox.db import utcnow
from hugbox.repos.service import check_not_legacy_id

user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
org_app = typer.Typer(help="Manage organisations and their members.", no_args_is_help=True)
token_app = typer.Typer(help="Manage access tokens.", no_args_is_help=True)


@user_app.command("create")
def create_user(
    name: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, help="The user's password."),
    admin: bool = typer.Option(False, "--admin", help="Make the user a site administrator."),
    email: str | None = typer.Option(None, help="E-mail address."),
    data_dir: DataDirOption = None,
) -> None:
    """Create a user."""
    op = operator(data_dir)
    with unit_of_work(op) as session:
        check_not_legacy_id(session, name)
        service.create_user(session, name=name, password=password, is_admin=admin, email=email)
    err.print(f"Created user {name}{' (admin)' if admin else ''}.")


@org_app.command("create")
def create_org(
    org: str,
    owner: str = typer.Option(..., help="User who becomes the org's first admin."),
    data_dir: DataDirOption = None,
) -> None:
    """Create an organisation."""
    op = operator(data_dir)
    with unit_of_work(op) as session:
        check_not_legacy_id(session, org)
        service.create_org(session, name=org, owner=owner)
    err.print(f"Created org {org}, administered by {owner}.")


@org_app.command("add-member")
def add_member(
    org: str,
    name: str,
    role: OrgRole = typer.Option(OrgRole.READ, help="read, contributor, write or admin."),
    data_dir: DataDirOption = None,
) -> None:
    """Add a user to an organisation (or change their role)."""
    op = operator(data_dir)
    with unit_of_work(op) as session:
        service.add_member(session, org=org, user=name, role=role)
    err.print(f"{name} is now {role.value} in {org}.")


@token_app.command("create")
def create_token(
    name: str = typer.Argument(..., help="The user the token acts for."),
    role: TokenRole = typer.Option(TokenRole.WRITE, help="read, write or fineGrained."),
    token_name: str = typer.Option("hugbox-cli", "--name", help="A label for the token."),
    permission: list[str] = typer.Option(
        [], help="fineGrained: `type:name=perm,perm`, e.g. model:alice/bert=repo.content.read."
    ),
    global_permission: list[str] = typer.Option([], "--global", help="e.g. discussion.write."),
    gated: bool = typer.Option(False, "--gated", help="fineGrained: reads granted gated repos."),
    expires_in_days: int | None = typer.Option(None, min=1, help="Expire after this many days."),
    data_dir: DataDirOption = None,
) -> None:
    """Create an access token; it is printed once, alone on the last line of stdout."""
    op = operator(data_dir)
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    with unit_of_work(op) as session:
        scope = None
        if role == TokenRole.FINE_GRAINED:
            scope = scopes.from_lines(permission, global_=global_permission, gated=gated)
        token = service.create_token(
            session, user=name, name=token_name, role=role, scope=scope, expires_at=expires
        )
    err.print(f"Token for {name} ({role.value}); store it now, it is not shown again:")
    typer.echo(token)
