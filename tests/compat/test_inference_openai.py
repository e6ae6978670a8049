"""OpenAI-style routes with the real clients: InferenceClient.chat_completion (model URL and
OpenAI-style base_url, plain and streamed), embeddings and the model list."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import torch
from huggingface_hub import AsyncInferenceClient, InferenceClient
from transformers import GPT2Config, GPT2LMHeadModel

from support import Hub, unique
from tiny_models import bpe_tokenizer

pytestmark = pytest.mark.compat

TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


@pytest.fixture(scope="module")
def chat_model(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder: Path = tmp_path_factory.mktemp("tiny-chat")
    tokenizer = bpe_tokenizer(["user: hello there\nassistant: hi, how are you?"])
    tokenizer.chat_template = TEMPLATE
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=32, n_layer=2, n_head=2)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    repo_id = f"alice/{unique('chat')}"
    assert hub.cli("import", str(folder), repo_id).returncode == 0
    return repo_id


MESSAGES = [{"role": "user", "content": "hello there"}]


def test_chat_completion_by_model_url(hub: Hub, chat_model: str) -> None:
    client = InferenceClient(model=f"{hub.endpoint}/models/{chat_model}", token=hub.alice)
    reply = client.chat_completion(MESSAGES, max_tokens=6, temperature=0)
    assert reply.choices[0].message.role == "assistant"
    assert isinstance(reply.choices[0].message.content, str)
    assert reply.usage.completion_tokens <= 6
    assert reply.choices[0].finish_reason in ("length", "stop")


def test_chat_completion_openai_style_and_streamed(hub: Hub, chat_model: str) -> None:
    client = InferenceClient(base_url=f"{hub.endpoint}/v1", token=hub.alice)
    whole = client.chat_completion(MESSAGES, model=chat_model, max_tokens=8, temperature=0)
    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in client.chat_completion(
            MESSAGES, model=chat_model, max_tokens=8, temperature=0, stream=True
        )
    ]
    assert "".join(pieces) == whole.choices[0].message.content


def test_chat_errors_are_4xx(hub: Hub, chat_model: str) -> None:
    url = f"{hub.endpoint}/v1/chat/completions"
    auth = {"authorization": f"Bearer {hub.alice}"}
    bodies = [
        {"model": chat_model},
        {"model": chat_model, "messages": "hi"},
        {"messages": MESSAGES},
        {"model": chat_model, "messages": MESSAGES, "max_tokens": -1},
    ]
    for body in bodies:
        response = httpx.post(url, json=body, headers=auth, timeout=120)
        assert response.status_code == 400, (body, response.text)
    missing = httpx.post(url, json={"model": "alice/nope", "messages": MESSAGES}, headers=auth)
    assert missing.status_code == 404


def test_models_list_shows_what_the_caller_may_run(hub: Hub, chat_model: str) -> None:
    ids = [m["id"] for m in httpx.get(f"{hub.endpoint}/v1/models").json()["data"]]
    assert chat_model in ids


def test_async_client_chats_and_generates_streamed(hub: Hub, chat_model: str) -> None:
    url = f"{hub.endpoint}/models/{chat_model}"

    async def calls() -> tuple[str, str, str, str]:
        async with AsyncInferenceClient(model=url, token=hub.alice) as client:
            reply = await client.chat_completion(MESSAGES, max_tokens=6, temperature=0)
            chunks = await client.chat_completion(
                MESSAGES, max_tokens=6, temperature=0, stream=True
            )
            streamed = "".join([c.choices[0].delta.content or "" async for c in chunks])
            text = await client.text_generation("user: hi", max_new_tokens=5, do_sample=False)
            tokens = await client.text_generation(
                "user: hi", max_new_tokens=5, do_sample=False, stream=True
            )
            pieces = "".join([token async for token in tokens])
        return reply.choices[0].message.content or "", streamed, text, pieces

    reply, streamed, text, pieces = asyncio.run(calls())
    assert streamed == reply
    assert text == "user: hi" + pieces  # the classic answer echoes the prompt
