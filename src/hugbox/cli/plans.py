"""`hugbox plan list|show|assign`: the plans of the plans file, and who has which."""

from __future__ import annotations

import json
from dataclasses import asdict
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from hugbox.auth.service import get_account
from hugbox.cli.context import DataDirOption, err, load_settings, operator, unit_of_work
from hugbox.plans import service
from hugbox.plans.config import load_catalog
from hugbox.plans.models import Plan

plan_app = typer.Typer(
    help="Plans (rate limits, quotas, inference allowances) and who has which.",
    no_args_is_help=True,
)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


FormatOption = typer.Option(OutputFormat.TABLE, "--format", help="table or json.")


def _use_plans_file(data_dir: DataDirOption) -> None:
    service.use_catalog(load_catalog(load_settings(data_dir).plans_file))


def _cell(value: object) -> str:
    return "unlimited" if value is None else str(value)


@plan_app.command("list")
def list_plans(output: OutputFormat = FormatOption, data_dir: DataDirOption = None) -> None:
    """The plans of the plans file (HUGBOX_PLANS_FILE), weakest first."""
    _use_plans_file(data_dir)
    plans = list(service.catalog().plans.values())
    if output is OutputFormat.JSON:
        typer.echo(json.dumps([asdict(plan) for plan in plans]))
        return
    table = Table("plan", "tier", "api", "resolvers", "pages", "private storage",
                  "public storage", "inference/day", "compute s/day", "running spaces")  # fmt: skip
    for p in plans:
        table.add_row(p.name, p.tier, str(p.api), str(p.resolvers), str(p.pages),
                      _cell(p.private_storage), _cell(p.public_storage),
                      _cell(p.inference_requests), _cell(p.inference_seconds),
                      _cell(p.running_spaces))  # fmt: skip
    Console().print(table)
    err.print(f"Rate limits count requests per {service.catalog().window} s window.")


@plan_app.command("show")
def show_plan(
    account: str = typer.Argument(..., help="A user or an organization."),
    output: OutputFormat = FormatOption,
    data_dir: DataDirOption = None,
) -> None:
    """An account's own plan; for a user also the plan their requests are limited by (the best
    of theirs and their orgs')."""
    _use_plans_file(data_dir)
    with unit_of_work(operator(data_dir)) as session:
        found = get_account(session, account)
        own = service.plan_for(session, found)
        limited = service.user_plan(session, found.id) if found.kind.value == "user" else own
    _print_plan(account, own, limited, output)


def _print_plan(account: str, own: Plan, limited: Plan, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        typer.echo(json.dumps({"account": account, "plan": asdict(own),
                               "limitedBy": limited.name}))  # fmt: skip
        return
    typer.echo(f"{account}: plan {own.name} (tier {own.tier})")
    if limited.name != own.name:
        typer.echo(f"requests limited by {limited.name}, an organization's plan")


@plan_app.command("assign")
def assign_plan(
    account: str = typer.Argument(..., help="A user or an organization."),
    plan: str = typer.Argument(..., help="A plan of the plans file."),
    data_dir: DataDirOption = None,
) -> None:
    """Give an account a plan; running hubs apply it within HUGBOX_PLAN_CACHE_TTL seconds."""
    _use_plans_file(data_dir)
    with unit_of_work(operator(data_dir)) as session:
        service.assign_plan(session, account=account, plan=plan)
    err.print(f"{account} now has the plan {plan}.")
