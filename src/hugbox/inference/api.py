"""Routes of the Inference API: `/models/{id}`, its `/pipeline/{task}` forms, TGI's `/generate`,
`/generate_stream` and `/info` under a model, and the classic `/status/{id}`."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from hugbox import __version__
from hugbox.auth.scopes import Permission, Target
from hugbox.auth.service import Caller, authenticate, require
from hugbox.db import Database
from hugbox.deps import bearer_token
from hugbox.edge import read_json
from hugbox.errors import BadRequest, HubError
from hugbox.inference import calls, service
from hugbox.inference.executor import Executor
from hugbox.inference.leaving import unless_client_leaves
from hugbox.inference.metrics import INFERENCE_TAG
from hugbox.inference.schemas import (
    EndpointInfo,
    ModelStatus,
    TaskOutput,
    TextGenerationOutput,
    returns_or_streams,
)
from hugbox.inference.shapes import tgi_details
from hugbox.inference.targets import TargetCache
from hugbox.inference.worker.process import Outcome
from hugbox.openapi import request_body
from hugbox.repos import access
from hugbox.repos.deps import load_repo, path_revision
from hugbox.repos.models import Repo
from hugbox.repos.service import Need
from hugbox.settings import Settings
from hugbox.wire import returns

router = APIRouter(tags=[INFERENCE_TAG])
# `{"inputs": ..., "parameters": {...}}`, read by _body (a bare JSON value, raw text or bytes
# are accepted as the inputs too).
INPUTS = request_body(
    {"type": "object", "properties": {"inputs": {}, "parameters": {"type": "object"}}},
    "application/json",
)
MODEL = "/models/{namespace}/{name}"
T = TypeVar("T")


def _with_model(request: Request, model: str | None, use: Callable[[Session, Repo, str], T]) -> T:
    """`use(repo, revision)` after the access check, in a short transaction of its own: the
    session must not stay open while a model runs. `model` (`org/name[@rev]`) overrides the
    URL's model."""
    database: Database = request.app.state.database
    repo_id, _, revision = model.partition("@") if model else ("", "", "")
    with database.session() as session:
        caller = authenticate(session, bearer_token(request))
        repo = load_repo(request, session, caller, Need.DOWNLOAD, repo_id=repo_id or None)
        _require_inference(caller, repo)
        request.state.inference_model = repo.repo_id  # the label of its metrics
        return use(session, repo, revision or path_revision(request))


def _require_inference(caller: Caller, repo: Repo) -> None:
    """A fine-grained token calls the Inference API with `inference.serverless.write`, which
    HF scopes to the user (a hugbox token may also scope it to the model or its namespace)."""
    own = Target(caller.user.name) if caller.user else None
    if own is not None and caller.allows(Permission.INFERENCE, own):
        return
    require(caller, Permission.INFERENCE, access.target(repo), f"run {repo.repo_id}")


def target(request: Request, model: str | None = None) -> service.Target:
    """The model folder, ready to load (see `_with_model`)."""
    settings: Settings = request.app.state.settings

    def prepare(session: Session, repo: Repo, revision: str) -> service.Target:
        found = service.target_for(
            request.app.state.store,
            repo,
            revision=revision,
            snapshots_dir=settings.data_dir / "inference" / "snapshots",
            max_model_bytes=settings.inference_max_model_bytes,
        )
        for check in getattr(request.app.state, "model_checks", ()):  # a scan's verdict
            check(session, repo, found.sha)
        return found

    return _with_model(request, model, prepare)


async def resolve(request: Request, model: str | None = None) -> service.Target:
    """`target`, from the caller's recent answers when it asked for the same model (see
    `TargetCache`): the hot path of a busy client needs no thread, query or git read."""
    cache: TargetCache = request.app.state.target_cache
    key = cache.key(bearer_token(request), request.url.path, model)
    found = await cache.get(key, lambda: run_in_threadpool(target, request, model))
    request.state.inference_model = found.repo_id  # the label of its metrics
    return found


def facts(request: Request) -> service.ModelFacts:
    """What the URL's model is, without preparing it to load (see `_with_model`)."""
    store = request.app.state.store
    return _with_model(
        request,
        None,
        lambda _session, repo, revision: service.model_facts(store, repo, revision=revision),
    )


async def _body(request: Request) -> dict[str, Any]:
    """The request as `{"inputs": ..., "parameters": ...}`. As the classic API took it, a JSON
    value that is not an object is the `inputs` itself (HF's documented `json="Write a story"`),
    and a body that is not JSON is raw input: text/plain, or an image's bytes."""
    try:
        parsed = await read_json(request)
    except BadRequest:
        # Clients send JSON without saying so, and raw image bytes with no type at all.
        if request.headers.get("content-type", "").startswith("application/json"):
            raise
        return {"inputs": await request.body()}
    if isinstance(parsed, dict):
        return parsed
    if isinstance(parsed, int | float) and not isinstance(parsed, bool):
        return {"inputs": str(parsed)}  # the classic API read `42` as the text "42"
    return {"inputs": parsed}


async def _tgi_body(request: Request) -> dict[str, Any]:
    """TGI's routes take its `{"inputs": ..., "parameters": {...}}` object only, as TGI does."""
    try:
        parsed = await read_json(request)
    except BadRequest:
        parsed = None
    if not isinstance(parsed, dict):
        raise BadRequest('The body must be a JSON object: {"inputs": ..., "parameters": {...}}')
    return parsed


def _option(request: Request, body: dict[str, Any], name: str) -> bool | None:
    """An option from its `x-…` header (`x-wait-for-model`), else from the body's `options`."""
    header = request.headers.get("x-" + name.replace("_", "-"))
    if header is not None:
        return header.lower() in ("1", "true", "yes")
    options = body.get("options")
    value = options.get(name) if isinstance(options, dict) else None
    return value if isinstance(value, bool) else None


async def _run(request: Request, forced_task: str | None) -> Response:
    model = await resolve(request)
    body = await _body(request)
    executor: Executor = request.app.state.executor
    if body.get("stream") is True and (forced_task or model.pipeline_tag) == "text-generation":
        return await _tgi_stream(executor, model, body, presets=True)
    inference = service.infer(
        executor,
        model,
        body,
        forced_task=forced_task,
        wait_for_model=_option(request, body, "wait_for_model"),
        cache=request.app.state.response_cache,
        use_cache=_option(request, body, "use_cache") is not False,
    )
    answer = await unless_client_leaves(request, inference)
    headers = {
        "x-compute-type": "cpu",
        "x-compute-time": f"{answer.compute_seconds:.4f}",
        "x-inference-time": f"{answer.inference_seconds * 1000:.2f}",  # TGI's, in ms
        "x-model-sha": model.sha,
    }
    if answer.cache:
        headers["x-cache"] = answer.cache
    return Response(answer.content, media_type="application/json", headers=headers)


async def _tgi_stream(
    executor: Executor, model: service.Target, body: dict[str, Any], *, presets: bool
) -> Response:
    """`"stream": true` on a text-generation model, and `/generate_stream`: TGI's server-sent
    events, token by token. `presets`: the model's generation defaults apply (the classic route)."""
    key = service.generation_key(model)
    job, call = service.text_generation_job(executor, model, body, stream=True, presets=presets)
    items = await started(executor.stream(key, job, wait_for_model=None))
    return StreamingResponse(_tgi_events(items, call), media_type="text/event-stream")


async def started(items: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    """`items` once its first item is there: errors before it (the model cannot load, is
    overloaded) are then HTTP errors, not a broken stream. Closing the result closes `items`."""
    first = await anext(items)

    async def chained() -> AsyncGenerator[T, None]:
        async with aclosing(items):
            yield first
            async for item in items:
                yield item

    return chained()


async def _tgi_events(
    items: AsyncIterator[str | Outcome], call: calls.PipelineCall
) -> AsyncIterator[str]:
    index = 0
    async for item in items:
        token = {"id": 0, "text": item if isinstance(item, str) else "", "logprob": 0.0,
                 "special": False}  # fmt: skip
        event: dict[str, Any] = {"index": index, "token": token, "generated_text": None,
                                 "details": None}  # fmt: skip
        if not isinstance(item, str):
            try:
                done = service.generated_of(item)
            except HubError as exc:  # the stream has started: report in-band, as TGI does
                yield f"data: {json.dumps({'error': exc.message, 'error_type': 'generation'})}\n\n"
                return
            event["generated_text"] = done.text
            if call.kwargs["__details__"]:
                event["details"] = tgi_details(done, seed=call.kwargs.get("__seed__"))
        index += 1
        yield f"data: {json.dumps(event)}\n\n"


# The pipeline's answer; TGI's events for `"stream": true` on a text-generation model.
RUN = {"openapi_extra": INPUTS, **returns_or_streams(TaskOutput)}


@router.post(MODEL, **RUN)
async def run_model(request: Request) -> Response:
    return await _run(request, None)


@router.post(MODEL + "/pipeline/{task}", **RUN)
async def run_model_task(request: Request, task: str) -> Response:
    return await _run(request, task)


@router.post("/pipeline/{task}/{namespace}/{name}", **RUN)
async def run_legacy_pipeline(request: Request, task: str) -> Response:
    return await _run(request, task)


@router.post(MODEL + "/generate", openapi_extra=INPUTS, **returns(TextGenerationOutput))
async def generate(request: Request) -> dict[str, Any]:
    """TGI's `/generate`: the new text only (unless `return_full_text`), with `details` if asked."""
    model = await resolve(request)
    body = await _tgi_body(request)
    executor: Executor = request.app.state.executor
    key = service.generation_key(model)
    # TGI's own defaults (greedy), not the model's: what its documentation promises.
    job, call = service.text_generation_job(executor, model, body, stream=False, presets=False)
    outcome = await unless_client_leaves(request, executor.run(key, job, wait_for_model=None))
    done = service.generated_of(outcome)
    params = body.get("parameters") or {}
    full = params.get("return_full_text") is True  # TGI's /generate does not echo by default
    answer: dict[str, Any] = {"generated_text": (call.args[0] if full else "") + done.text}
    if call.kwargs["__details__"]:
        answer["details"] = tgi_details(done, seed=call.kwargs.get("__seed__"))
    return answer


@router.post(MODEL + "/generate_stream", openapi_extra=INPUTS, response_class=StreamingResponse)
async def generate_stream(request: Request) -> Response:
    model = await resolve(request)
    body = await _tgi_body(request)
    return await _tgi_stream(request.app.state.executor, model, body, presets=False)


@router.get(MODEL + "/info", **returns(EndpointInfo))
async def info(request: Request) -> dict[str, Any]:
    """TGI-like facts about the model and how it is served (`InferenceClient.get_endpoint_info`)."""
    model = await run_in_threadpool(facts, request)
    settings: Settings = request.app.state.settings
    config = model.config or {}
    context = next((config[k] for k in _CONTEXT_KEYS if isinstance(config.get(k), int)), None)
    return {
        "model_id": model.repo_id,
        "model_sha": model.sha,
        "model_pipeline_tag": model.pipeline_tag,
        "model_dtype": "float32",
        "model_device_type": "cpu",
        "max_concurrent_requests": settings.inference_max_queue,
        "max_batch_size": settings.inference_max_batch,
        "max_best_of": 1,
        "max_input_tokens": context - 1 if context else None,
        "max_total_tokens": context,
        "router": "hugbox",
        "version": __version__,
    }


_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "n_ctx", "max_seq_len")


@router.get("/status/{namespace}/{name}", **returns(ModelStatus))
async def status(request: Request) -> dict[str, Any]:
    """The classic API's model status: loaded now, loadable, or too big to load."""
    model = await run_in_threadpool(facts, request)
    settings: Settings = request.app.state.settings
    executor: Executor = request.app.state.executor
    found = service.model_status(
        model, loaded=executor.loaded(), max_model_bytes=settings.inference_max_model_bytes
    )
    return {
        "loaded": found.loaded,
        "state": found.state,
        "compute_type": "cpu",
        "framework": found.framework,
    }
