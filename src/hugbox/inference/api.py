"""Routes of the Inference API: `/models/{id}`, its `/pipeline/{task}` forms, and `/health`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from hugbox.auth.service import authenticate
from hugbox.db import Database
from hugbox.deps import bearer_token
from hugbox.errors import BadRequest, HubError
from hugbox.inference import service
from hugbox.inference.executor import Executor
from hugbox.inference.worker import Outcome
from hugbox.repos.deps import load_repo, path_revision
from hugbox.repos.service import Need
from hugbox.settings import Settings

router = APIRouter()
MODEL = "/models/{namespace}/{name}"


def target(request: Request, model: str | None = None) -> service.Target:
    """Access check and model folder, in a short transaction of its own: the session must not
    stay open while a model runs. `model` (`org/name[@rev]`) overrides the URL's model."""
    settings: Settings = request.app.state.settings
    database: Database = request.app.state.database
    repo_id, _, revision = model.partition("@") if model else ("", "", "")
    with database.session() as session:
        caller = authenticate(session, bearer_token(request))
        repo = load_repo(request, session, caller, Need.DOWNLOAD, repo_id=repo_id or None)
        return service.target_for(
            request.app.state.store,
            repo,
            revision=revision or path_revision(request),
            snapshots_dir=settings.data_dir / "inference" / "snapshots",
            max_model_bytes=settings.inference_max_model_bytes,
        )


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        parsed = json.loads(raw)
    except ValueError as exc:  # UnicodeDecodeError included
        # Clients send JSON without saying so, and raw image bytes with no type at all.
        if not request.headers.get("content-type", "").startswith("application/json"):
            return {"inputs": raw}
        raise BadRequest(f"The body is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise BadRequest('The body must be a JSON object: {"inputs": ..., "parameters": {...}}')
    return parsed


def _wait_for_model(request: Request, body: dict[str, Any]) -> bool | None:
    header = request.headers.get("x-wait-for-model")
    if header is not None:
        return header.lower() in ("1", "true", "yes")
    options = body.get("options")
    value = options.get("wait_for_model") if isinstance(options, dict) else None
    return value if isinstance(value, bool) else None


async def _run(request: Request, forced_task: str | None) -> Response:
    model = await run_in_threadpool(target, request)
    body = await _body(request)
    executor: Executor = request.app.state.executor
    if body.get("stream") is True and (forced_task or model.pipeline_tag) == "text-generation":
        return _tgi_stream(executor, model, body)
    answer = await service.infer(
        executor,
        model,
        body,
        forced_task=forced_task,
        wait_for_model=_wait_for_model(request, body),
    )
    headers = {
        "x-compute-type": "cpu",
        "x-compute-time": f"{answer.compute_seconds:.4f}",
        "x-model-sha": model.sha,
    }
    return JSONResponse(answer.body, headers=headers)


def _tgi_stream(executor: Executor, model: service.Target, body: dict[str, Any]) -> Response:
    """`"stream": true` on a text-generation model: TGI's server-sent events, token by token."""
    if not isinstance(body.get("inputs"), str):
        raise BadRequest("Streaming needs `inputs` to be a string")
    raw = body.get("parameters")
    params = raw if isinstance(raw, dict) else {}
    options = {
        "max_tokens": params.get("max_new_tokens"),
        "temperature": params.get("temperature") if params.get("do_sample", True) else 0,
        "top_p": params.get("top_p"),
        "stop": params.get("stop"),
        "seed": params.get("seed"),
    }
    job = service.generation_job(executor, body["inputs"], options, stream=True)
    items = executor.stream(service.generation_key(model), job, wait_for_model=None)
    return StreamingResponse(_tgi_events(items, details=bool(params.get("details"))),
                             media_type="text/event-stream")  # fmt: skip


async def _tgi_events(items: AsyncIterator[str | Outcome], *, details: bool) -> AsyncIterator[str]:
    index = 0
    async for item in items:
        token = {"id": 0, "text": item if isinstance(item, str) else "", "logprob": 0.0,
                 "special": False}  # fmt: skip
        event: dict[str, Any] = {"index": index, "token": token, "generated_text": None,
                                 "details": None}  # fmt: skip
        if not isinstance(item, str):
            try:
                done = service.result_of(item)
            except HubError as exc:  # the stream has started: report in-band, as TGI does
                yield f"data: {json.dumps({'error': exc.message, 'error_type': 'generation'})}\n\n"
                return
            event["generated_text"] = done.text
            if details:
                event["details"] = {
                    "finish_reason": _tgi_reason(done.finish_reason),
                    "generated_tokens": done.completion_tokens,
                    "seed": None,
                }
        index += 1
        yield f"data: {json.dumps(event)}\n\n"


def _tgi_reason(reason: str) -> str:
    return "length" if reason == "length" else "eos_token"


@router.post(MODEL)
async def run_model(request: Request) -> Response:
    return await _run(request, None)


@router.post(MODEL + "/pipeline/{task}")
async def run_model_task(request: Request, task: str) -> Response:
    return await _run(request, task)


@router.post("/pipeline/{task}/{namespace}/{name}")
async def run_legacy_pipeline(request: Request, task: str) -> Response:
    return await _run(request, task)


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
