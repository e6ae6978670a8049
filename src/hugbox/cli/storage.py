"""`hugbox storage stats|gc`: what the Xet store holds, and reclaiming what nothing uses."""

from __future__ import annotations

import json
from dataclasses import asdict
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from hugbox.cli.context import DataDirOption, err, operator, unit_of_work
from hugbox.context import open_blob_store_for
from hugbox.xet import maintenance

storage_app = typer.Typer(help="Inspect and clean Xet storage.", no_args_is_help=True)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


@storage_app.command("stats")
def stats(
    output: OutputFormat = typer.Option(OutputFormat.TABLE, "--format", help="table or json."),
    data_dir: DataDirOption = None,
) -> None:
    """Logical bytes (what repos hold) against stored bytes (xorbs), per repo and in total."""
    with unit_of_work(operator(data_dir)) as session:
        found = maintenance.storage_stats(session)
    if output is OutputFormat.JSON:
        body = asdict(found)
        for item, repo in zip(body["repos"], found.repos, strict=True):
            item["dedup_ratio"] = round(repo.dedup_ratio, 3)
        typer.echo(json.dumps({**body, "dedup_ratio": round(found.dedup_ratio, 3)}))
        return
    table = Table("repo", "type", "Xet files", "logical", "stored", "dedup")
    for repo in found.repos:
        table.add_row(
            repo.repo_id,
            repo.repo_type,
            str(repo.files),
            _size(repo.logical_bytes),
            _size(repo.stored_bytes),
            f"{repo.dedup_ratio:.2f}",
        )
    Console().print(table)
    typer.echo(
        f"logical {_size(found.logical_bytes)} in {found.files} files; stored "
        f"{_size(found.stored_bytes)} in {found.xorbs} xorbs "
        f"({_size(found.unique_bytes)} uncompressed); dedup ratio {found.dedup_ratio:.2f}"
    )


@storage_app.command("gc")
def gc(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only report what would go."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Do not ask for confirmation."),
    data_dir: DataDirOption = None,
) -> None:
    """Delete xorbs that no file references and that nobody touched for 30 days."""
    op = operator(data_dir)
    if not (dry_run or yes or typer.confirm("Delete unreferenced Xet data?")):
        raise typer.Abort()
    blobs = open_blob_store_for(op.settings)
    with unit_of_work(op) as session:
        collected = maintenance.collect_garbage(session, blobs, dry_run=dry_run)
    if not dry_run:
        maintenance.delete_xorbs(blobs.xorbs, collected.xorbs)
    verb = "Would delete" if dry_run else "Deleted"
    err.print(
        f"{verb} {len(collected.xorbs)} xorbs ({_size(collected.bytes)}) and forgot "
        f"{collected.files} files no repo holds."
    )
