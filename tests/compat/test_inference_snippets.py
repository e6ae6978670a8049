"""The Inference API snippets HF documented, run as written against a tiny GPT-2 whose config
carries GPT-2's own `task_specific_params` (sample, at most 50 tokens): a bare JSON string as
the body, raw text, answers that follow the model's defaults, and a cache that never freezes a
sampled answer."""

from __future__ import annotations

import time

import httpx
import pytest
import requests
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from support import Hub, add_legacy_alias, unique
from tiny_models import bpe_tokenizer

pytestmark = pytest.mark.compat

TEXT = ["Write a story about a Knight.", "The knight rode to the castle.", "Once upon a time."]
PROMPT = "Write a story about a Knight"
MAX_LENGTH = 50  # GPT-2's task_specific_params["text-generation"]


@pytest.fixture(scope="module")
def gpt2_alias(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny GPT-2 reachable, like `gpt2` itself, by an id without namespace. Made an alias by
    hand, not by `hugbox import DIR <bare id>`: that one needs the `legacy` org, which
    test_legacy_ids creates for itself in the same live hub."""
    folder = tmp_path_factory.mktemp("tiny-gpt2-sampling")
    tokenizer = bpe_tokenizer(TEXT)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2,
        task_specific_params={"text-generation": {"do_sample": True, "max_length": MAX_LENGTH}},
    )  # fmt: skip
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    repo_id = f"alice/{unique('gpt2-sampling')}"
    result = hub.cli("import", str(folder), repo_id)
    assert result.returncode == 0, result.stderr
    return _alias(hub, repo_id)


def _alias(hub: Hub, repo_id: str) -> str:
    alias = unique("gpt2")
    add_legacy_alias(hub.data_dir, repo_id, alias)
    deadline = time.monotonic() + 15  # the server reloads its legacy ids every few seconds
    while httpx.get(f"{hub.endpoint}/api/models/{alias}").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    return alias


def test_the_documented_snippet_runs_verbatim(hub: Hub, gpt2_alias: str) -> None:
    API_URL = f"{hub.endpoint}/models/{gpt2_alias}"  # the snippet's own names
    API_TOKEN = hub.alice
    # As HF's docs wrote it: no timeout, the prompt itself as the JSON body.
    answer = requests.post(API_URL, headers={"Authorization": f"Bearer {API_TOKEN}"}, json="Write a story about a Knight").json()  # noqa: E501, S113  # fmt: skip
    [generated] = answer
    assert generated["generated_text"].startswith(PROMPT)
    assert len(generated["generated_text"]) > len(PROMPT)


def test_raw_text_is_the_prompt(hub: Hub, gpt2_alias: str) -> None:
    headers = {"Authorization": f"Bearer {hub.alice}"}
    url = f"{hub.endpoint}/models/{gpt2_alias}"
    typed = {**headers, "Content-Type": "text/plain"}
    plain = requests.post(url, headers=typed, data=PROMPT, timeout=300)
    untyped = requests.post(url, headers=headers, data=PROMPT.encode(), timeout=300)  # no type
    for response in (plain, untyped):
        assert response.status_code == 200, response.text
        assert response.json()[0]["generated_text"].startswith(PROMPT)


def test_the_model_defaults_set_the_length(hub: Hub, gpt2_alias: str) -> None:
    """`max_length` 50 counts the prompt, as `pipeline()` and the classic API did."""
    url = f"{hub.endpoint}/models/{gpt2_alias}"
    body = {"inputs": PROMPT, "parameters": {"details": True, "do_sample": False}}
    details = httpx.post(url, json=body, timeout=300).json()[0]["details"]
    prompt_tokens = len(bpe_tokenizer(TEXT)(PROMPT)["input_ids"])
    assert details["finish_reason"] == "eos_token" or (
        details["generated_tokens"] == MAX_LENGTH - prompt_tokens
    )


def test_sampled_answers_are_never_cached_greedy_ones_are(hub: Hub, gpt2_alias: str) -> None:
    url = f"{hub.endpoint}/models/{gpt2_alias}"
    sampled = {"inputs": PROMPT, "parameters": {"max_new_tokens": 32}}
    first, second = (httpx.post(url, json=sampled, timeout=300) for _ in range(2))
    assert first.status_code == second.status_code == 200, first.text
    assert first.json() != second.json()  # 32 tokens of ~300 each: equal by chance never
    assert "x-cache" not in first.headers and "x-cache" not in second.headers

    greedy = {"inputs": PROMPT, "parameters": {"max_new_tokens": 32, "do_sample": False}}
    answers = [httpx.post(url, json=greedy, timeout=300) for _ in range(2)]
    assert [a.headers["x-cache"] for a in answers] == ["MISS", "HIT"]
    bypassed = [
        httpx.post(url, json=greedy, headers={"X-Use-Cache": "False"}, timeout=300),
        httpx.post(url, json={**greedy, "options": {"use_cache": False}}, timeout=300),
    ]
    assert [a.headers["x-cache"] for a in bypassed] == ["MISS", "MISS"]
    assert len({a.text for a in [*answers, *bypassed]}) == 1

    # TGI's own route keeps TGI's contract: its JSON object only, greedy unless asked.
    tgi = f"{url}/generate"
    assert httpx.post(tgi, json=PROMPT, timeout=300).status_code == 400
    tgi_answers = [httpx.post(tgi, json=sampled, timeout=300).json() for _ in range(2)]
    assert tgi_answers[0] == tgi_answers[1]
