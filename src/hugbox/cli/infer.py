"""`hugbox infer`: run a hosted model once, in this process, through the Inference API's path."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import typer

from hugbox.cli.context import DataDirOption, Operator, err, operator, unit_of_work
from hugbox.errors import HubError, NotFound
from hugbox.inference import service
from hugbox.inference.executor import ExecutorLimits, ProcessExecutor
from hugbox.repos import service as repos
from hugbox.repos.models import RepoType
from hugbox.repos.service import Moved


def infer_command(
    repo_id: str = typer.Argument(..., help="The model, `namespace/name`."),
    inputs: str = typer.Argument(
        ..., help="The input text; a JSON object or list is sent as such (question-answering)."
    ),
    task: str | None = typer.Option(None, help="Run this task instead of the model's own."),
    parameters: str | None = typer.Option(
        None, help="Task parameters, a JSON object such as '{\"top_k\": 2}'."
    ),
    revision: str = typer.Option("main", help="Branch, tag or commit to run."),
    data_dir: DataDirOption = None,
) -> None:
    """Run a model once in this process (no server needed); print its answer as JSON."""
    body = {"inputs": _inputs(inputs), "parameters": _parameters(parameters)}
    op = operator(data_dir)
    target = _target(op, repo_id, revision)
    with err.status(f"Loading and running {target.repo_id} …"):
        try:
            answer = asyncio.run(_run(op, target, body, task))
        except HubError as exc:
            err.print(f"[red]error:[/red] {exc.message}")
            sys.exit(1)
    err.print(f"{target.repo_id} at {target.sha[:10]}: {answer.compute_seconds:.2f} s")
    typer.echo(json.dumps(answer.body))


def _inputs(text: str) -> Any:
    if text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _parameters(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--parameters") from None
    if not isinstance(value, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--parameters")
    return value


def _target(op: Operator, repo_id: str, revision: str) -> service.Target:
    settings = op.settings
    with unit_of_work(op) as session:
        found = repos.find_repo(session, RepoType.MODEL, repo_id)
        repo = found.repo if isinstance(found, Moved) else found
        if repo is None:
            raise NotFound(f"No model named {repo_id!r}")
        return service.target_for(
            op.store,
            repo,
            revision=revision,
            snapshots_dir=settings.data_dir / "inference" / "snapshots",
            max_model_bytes=settings.inference_max_model_bytes,
        )


async def _run(
    op: Operator, target: service.Target, body: dict[str, Any], task: str | None
) -> service.Answer:
    settings = op.settings
    limits = ExecutorLimits(
        memory_budget=settings.inference_memory_budget,
        threads=settings.inference_threads,
        load_timeout_s=settings.inference_load_timeout,
        dtype=settings.inference_dtype,
    )
    executor = ProcessExecutor(limits)
    try:
        return await service.infer(executor, target, body, forced_task=task, wait_for_model=True)
    finally:
        await executor.close()
