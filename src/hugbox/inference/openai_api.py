"""OpenAI-style routes: chat completions and completions (plain and streamed), embeddings, the
model list."""

from __future__ import annotations

import base64
import json
import struct
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from hugbox.deps import CallerDep, SessionDep
from hugbox.edge import read_json
from hugbox.errors import BadRequest, HubError
from hugbox.inference import service
from hugbox.inference.api import MODEL, resolve, started
from hugbox.inference.executor import Executor
from hugbox.inference.leaving import unless_client_leaves
from hugbox.inference.metrics import INFERENCE_TAG
from hugbox.inference.schemas import (
    ChatCompletionOutput,
    CompletionOutput,
    CreateEmbeddingResponse,
    ModelList,
    returns_or_streams,
)
from hugbox.inference.worker.process import Outcome
from hugbox.openapi import OBJECT, request_body
from hugbox.repos import service as repos
from hugbox.repos.models import RepoType
from hugbox.wire import returns

router = APIRouter(tags=[INFERENCE_TAG])
OPENAI = request_body(OBJECT, "application/json")


async def _json(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object")
    return body


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    error = BadRequest('`messages` must be a non-empty list of {"role", "content"} objects')
    if not isinstance(messages, list) or not messages:
        raise error
    result = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise error
        result.append({"role": message["role"], "content": _text(message.get("content", ""))})
    return result


def _text(content: Any) -> str:
    if isinstance(content, list):  # OpenAI content parts: keep the text ones
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def _model_name(body: dict[str, Any]) -> str | None:
    """The body's model, without a provider suffix (`org/m:fastest`); InferenceClient sends
    `dummy` when the URL already names the model."""
    model = body.get("model")
    if not isinstance(model, str) or model in ("", "dummy", "tgi"):
        return None
    return model.split(":", 1)[0]


def _body_model(request: Request, body: dict[str, Any]) -> str | None:
    """The model the body names, when the URL does not name one (`/v1/...` at the root)."""
    if "namespace" in request.path_params:
        return None
    name = _model_name(body)
    if name is None:
        raise BadRequest("Name the model in `model`, as `org/name`")
    return name


CHAT = {"openapi_extra": OPENAI, **returns_or_streams(ChatCompletionOutput)}


@router.post("/v1/chat/completions", **CHAT)
@router.post(MODEL + "/v1/chat/completions", **CHAT)
async def chat_completions(request: Request) -> Any:
    body = await _json(request)
    name = _body_model(request, body)
    model = await resolve(request, name)
    executor: Executor = request.app.state.executor
    job = service.generation_job(executor, _messages(body), body, stream=bool(body.get("stream")))
    key = service.generation_key(model)
    reply_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if job.stream:
        items = await started(executor.stream(key, job, wait_for_model=None))
        events = _chat_events(items, reply_id, created, model.repo_id)
        return StreamingResponse(events, media_type="text/event-stream")
    outcome = await unless_client_leaves(request, executor.run(key, job, wait_for_model=None))
    done = service.generated_of(outcome)
    return {
        "id": reply_id,
        "object": "chat.completion",
        "created": created,
        "model": model.repo_id,
        "system_fingerprint": model.sha,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": done.text},
                "logprobs": None,
                "finish_reason": done.finish_reason,
            }
        ],
        "usage": _usage(done),
    }


def _usage(done: Any) -> dict[str, int]:
    return {
        "prompt_tokens": done.prompt_tokens,
        "completion_tokens": done.completion_tokens,
        "total_tokens": done.prompt_tokens + done.completion_tokens,
    }


async def _chat_events(
    items: AsyncIterator[str | Outcome], reply_id: str, created: int, model: str
) -> AsyncIterator[str]:
    def event(delta: dict[str, Any], finish: str | None, **extra: Any) -> str:
        chunk = {
            "id": reply_id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **extra,
        }  # fmt: skip
        return f"data: {json.dumps(chunk)}\n\n"

    yield event({"role": "assistant", "content": ""}, None)
    async for item in items:
        if isinstance(item, str):
            yield event({"content": item}, None)
        else:
            try:
                done = service.generated_of(item)
            except Exception as exc:  # the stream has started: report in-band, as OpenAI does
                yield f"data: {json.dumps({'error': {'message': str(exc)}})}\n\n"
                return
            yield event({}, done.finish_reason, usage=_usage(done))
    yield "data: [DONE]\n\n"


COMPLETION = {"openapi_extra": OPENAI, **returns_or_streams(CompletionOutput)}


@router.post("/v1/completions", **COMPLETION)
@router.post(MODEL + "/v1/completions", **COMPLETION)
async def completions(request: Request) -> Any:
    """OpenAI's legacy completions: one prompt continued, on the chat generation path."""
    body = await _json(request)
    name = _body_model(request, body)
    prompt = _prompt(body)
    if body.get("n") not in (None, 1):
        raise BadRequest("`n` must be 1: one completion per request")
    model = await resolve(request, name)
    executor: Executor = request.app.state.executor
    if body.get("max_tokens") is None:
        body["max_tokens"] = 16  # OpenAI's default
    job = service.generation_job(executor, prompt, body, stream=body.get("stream") is True)
    key = service.generation_key(model)
    echo = prompt if body.get("echo") is True else ""
    reply = _Reply(f"cmpl-{uuid.uuid4().hex}", int(time.time()), model.repo_id, model.sha)
    if job.stream:
        items = await started(executor.stream(key, job, wait_for_model=None))
        events = _completion_events(items, reply, echo=echo, usage=_include_usage(body))
        return StreamingResponse(events, media_type="text/event-stream")
    outcome = await unless_client_leaves(request, executor.run(key, job, wait_for_model=None))
    done = service.generated_of(outcome)
    return {
        **reply.chunk(echo + done.text, done.finish_reason),
        "usage": _usage(done),
    }


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _prompt(body: dict[str, Any]) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise BadRequest("`prompt` must be a string (or a list of one string)")
    return prompt


@dataclass(frozen=True)
class _Reply:
    id: str
    created: int
    model: str
    sha: str

    def chunk(self, text: str, finish: str | None, **extra: Any) -> dict[str, Any]:
        return {
            "id": self.id, "object": "text_completion", "created": self.created,
            "model": self.model, "system_fingerprint": self.sha,
            "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
            **extra,
        }  # fmt: skip


async def _completion_events(
    items: AsyncIterator[str | Outcome], reply: _Reply, *, echo: str, usage: bool
) -> AsyncIterator[str]:
    def sse(chunk: dict[str, Any]) -> str:
        return f"data: {json.dumps(chunk)}\n\n"

    if echo:
        yield sse(reply.chunk(echo, None))
    async for item in items:
        if isinstance(item, str):
            yield sse(reply.chunk(item, None))
            continue
        try:
            done = service.generated_of(item)
        except HubError as exc:  # the stream has started: report in-band, as OpenAI does
            yield sse({"error": {"message": exc.message}})
            return
        yield sse(reply.chunk("", done.finish_reason))
        if usage:  # OpenAI: one last chunk, with no choices, carries the usage
            yield sse({**reply.chunk("", None), "choices": [], "usage": _usage(done)})
    yield "data: [DONE]\n\n"


EMBEDDINGS = {"openapi_extra": OPENAI, **returns(CreateEmbeddingResponse)}


@router.post("/v1/embeddings", **EMBEDDINGS)
@router.post(MODEL + "/v1/embeddings", **EMBEDDINGS)
async def embeddings(request: Request) -> Any:
    """OpenAI embeddings: floats, or base64 of little-endian float32 (what the `openai` client
    asks for by default, and decodes itself)."""
    body = await _json(request)
    name = _body_model(request, body)
    texts = body.get("input")
    if not (
        isinstance(texts, str)
        or (isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts))
    ):
        raise BadRequest("`input` must be a string or a non-empty list of strings")
    if body.get("encoding_format", "float") not in ("float", "base64"):
        raise BadRequest("`encoding_format` must be float or base64")
    inputs: dict[str, Any] = {"inputs": [texts] if isinstance(texts, str) else texts}
    if body.get("dimensions") is not None:
        inputs["dimensions"] = body["dimensions"]
    model = await resolve(request, name)
    executor: Executor = request.app.state.executor
    answer = await service.infer(
        executor, model, inputs, forced_task="feature-extraction", wait_for_model=None
    )
    encode = _base64 if body.get("encoding_format") == "base64" else list
    data = [
        {"object": "embedding", "index": i, "embedding": encode(vector)}
        for i, vector in enumerate(answer.body)
    ]
    return {"object": "list", "data": data, "model": model.repo_id,
            "usage": {"prompt_tokens": 0, "total_tokens": 0}}  # fmt: skip


def _base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


@router.get(MODEL + "/v1/models", **returns(ModelList))
async def model_for_url(request: Request) -> Any:
    """The URL's model, as the one entry of an OpenAI model list."""
    model = await resolve(request)
    entry = {
        "id": model.repo_id,
        "object": "model",
        "created": 0,
        "owned_by": model.repo_id.split("/")[0],
        "pipeline_tag": model.pipeline_tag,
    }
    return {"object": "list", "data": [entry]}


@router.get("/v1/models", **returns(ModelList))
def list_models(request: Request, session: SessionDep, caller: CallerDep) -> Any:
    query = repos.RepoQuery(repo_type=RepoType.MODEL, search=[])
    hidden = request.app.state.repo_hooks.unreachable_orgs(session, caller)
    found = repos.list_repos(
        session, caller=caller, hidden_owners=hidden, query=query, offset=0, page_size=1000
    )
    data = [
        {
            "id": repo.repo_id,
            "object": "model",
            "created": int(repo.created_at.timestamp()),
            "owned_by": repo.namespace,
            "pipeline_tag": repo.pipeline_tag,
        }
        for repo in found
        if repo.pipeline_tag
    ]
    return JSONResponse({"object": "list", "data": data})
