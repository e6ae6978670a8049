"""`hugbox viewer status|rebuild` and `hugbox worker`: the dataset viewer's background work."""

from __future__ import annotations

import json
import signal
import sys
from typing import Any

import typer

from hugbox.app import wired_worker
from hugbox.cli.context import DataDirOption, err, operator, unit_of_work
from hugbox.viewer import service

viewer_app = typer.Typer(
    help="The dataset viewer: conversion status, rebuilds.", no_args_is_help=True
)
FormatOption = typer.Option("text", "--format", help="text or json.")


@viewer_app.command("status")
def status(repo_id: str, output: str = FormatOption, data_dir: DataDirOption = None) -> None:
    """Show a dataset's conversion: revision, configs, splits, errors, and its recent jobs."""
    op = operator(data_dir)
    with unit_of_work(op) as session:
        report = service.status(session, service.find_dataset(session, repo_id))
    if output == "json":
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    sys.stdout.write(_text(report))


def _text(report: dict[str, Any]) -> str:
    lines = [f"dataset  {report['dataset']}  (main at {str(report['head'])[:12]})"]
    export = report["export"]
    if export is None:
        lines.append("export   none yet")
    else:
        state = "current" if export["current"] else "outdated"
        lines.append(f"export   {export['status']} at {export['revision'][:12]} ({state})")
        if export["error"]:
            lines.append(f"  error  {export['error']['code']}: {export['error']['message']}")
        for config in export["configs"]:
            if config["error"]:
                lines.append(f"  {config['config']}: {config['error']['code']}")
            for split in config["splits"]:
                partial = " (partial)" if split["partial"] else ""
                lines.append(
                    f"  {config['config']}/{split['split']}: {split['num_rows']} rows{partial}"
                )
    for job in report["jobs"]:
        lines.append(
            f"job {job['id']:>5} {job['kind']:<15} {job['status']:<8} "
            f"tries {job['attempts']}  {job['key']}"
        )
    return "\n".join(lines) + "\n"


@viewer_app.command("rebuild")
def rebuild(
    repo_id: str,
    now: bool = typer.Option(False, "--now", help="Convert here and now instead of queueing."),
    data_dir: DataDirOption = None,
) -> None:
    """Convert a dataset again, from scratch (queued for the hub's workers, or --now)."""
    op = operator(data_dir)
    with unit_of_work(op) as session:
        service.request_rebuild(session, service.find_dataset(session, repo_id))
    if not now:
        err.print(f"Queued a conversion of {repo_id}.")
        return
    worker = wired_worker(op)
    with err.status(f"Converting {repo_id}…"):
        while worker.run_once():
            pass
    err.print(f"Converted {repo_id}.")


def worker_command(data_dir: DataDirOption = None) -> None:
    """Run background jobs (dataset conversions, search indexes) until interrupted."""
    op = operator(data_dir)
    worker = wired_worker(op)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    err.print(f"Worker {worker.name} running; Ctrl-C to stop.")
    try:
        worker.run_forever()
    except KeyboardInterrupt:
        worker.stop()
