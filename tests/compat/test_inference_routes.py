"""The Inference API's other routes with the real clients: OpenAI completions (the `openai`
SDK), TGI's /generate, /generate_stream and /info, the classic /status, /metrics, the response
cache and `hugbox infer`, on tiny models built here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import requests
import torch
from huggingface_hub import InferenceClient
from prometheus_client.parser import text_string_to_metric_families
from transformers import BertConfig, BertForSequenceClassification, GPT2Config, GPT2LMHeadModel

from support import Hub, create_token, unique
from tiny_models import bpe_tokenizer

pytestmark = pytest.mark.compat

TEXT = ["The knight rode to the castle.", "A story about a brave knight.", "Write a story."]
GREEDY = {"max_new_tokens": 6, "do_sample": False}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("route-models")
    tokenizer = bpe_tokenizer(TEXT)
    torch.manual_seed(0)
    gpt2 = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2)
    GPT2LMHeadModel(gpt2).save_pretrained(root / "gpt2")
    tokenizer.save_pretrained(root / "gpt2")
    bert = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64, num_labels=3,
        id2label={0: "neg", 1: "neu", 2: "pos"}, label2id={"neg": 0, "neu": 1, "pos": 2},
    )  # fmt: skip
    BertForSequenceClassification(bert).save_pretrained(root / "bert")
    tokenizer.save_pretrained(root / "bert")
    return {"gpt2": root / "gpt2", "bert": root / "bert"}


def _import(hub: Hub, folder: Path, name: str, *extra: str) -> str:
    repo_id = f"alice/{unique(name)}"
    result = hub.cli("import", str(folder), repo_id, *extra)
    assert result.returncode == 0, result.stderr
    return repo_id


@pytest.fixture(scope="module")
def gpt2_id(hub: Hub, folders: dict[str, Path]) -> str:
    return _import(hub, folders["gpt2"], "gpt2")


@pytest.fixture(scope="module")
def private_gpt2_id(hub: Hub, folders: dict[str, Path]) -> str:
    return _import(hub, folders["gpt2"], "secret-gpt2", "--private")


@pytest.fixture(scope="module")
def classifier_id(hub: Hub, folders: dict[str, Path]) -> str:
    return _import(hub, folders["bert"], "bert")


@pytest.fixture(scope="module")
def admin_token(hub: Hub) -> str:
    name = unique("ops")
    assert hub.cli("user", "create", name, "--admin", "--password", "pw-ops").returncode == 0
    return create_token(hub.data_dir, name, "read")


def _url(hub: Hub, repo_id: str) -> str:
    return f"{hub.endpoint}/models/{repo_id}"


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _events(response: requests.Response) -> Iterator[dict[str, Any]]:
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("data:") and line[5:].strip() != "[DONE]":
            yield json.loads(line[5:])


# --- OpenAI completions ----------------------------------------------------------------------


def test_completions_with_the_openai_client(hub: Hub, gpt2_id: str) -> None:
    client = openai.OpenAI(base_url=f"{hub.endpoint}/v1", api_key=hub.alice)
    whole = client.completions.create(model=gpt2_id, prompt="The knight", max_tokens=6, seed=1)
    [choice] = whole.choices
    assert whole.object == "text_completion" and whole.model == gpt2_id
    assert isinstance(choice.text, str) and choice.finish_reason in ("length", "stop")
    assert whole.usage is not None and 1 <= whole.usage.completion_tokens <= 6
    chunks = list(
        client.completions.create(
            model=gpt2_id, prompt=["The knight"], max_tokens=6, stream=True,
            stream_options={"include_usage": True},
        )
    )  # fmt: skip
    assert "".join(c.choices[0].text for c in chunks if c.choices) == choice.text
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    by_url = openai.OpenAI(base_url=f"{_url(hub, gpt2_id)}/v1", api_key=hub.alice)
    again = by_url.completions.create(model="dummy", prompt="The knight", max_tokens=6)
    assert again.choices[0].text == choice.text
    echoed = client.completions.create(model=gpt2_id, prompt="The knight", max_tokens=6, echo=True)
    assert echoed.choices[0].text == "The knight" + choice.text


# --- TGI routes ------------------------------------------------------------------------------


def test_generate_and_generate_stream(hub: Hub, gpt2_id: str) -> None:
    full = InferenceClient(model=_url(hub, gpt2_id), token=hub.alice).text_generation(
        "The knight", **GREEDY
    )
    body = {"inputs": "The knight", "parameters": {**GREEDY, "details": True}}
    answer = requests.post(
        f"{_url(hub, gpt2_id)}/generate", json=body, headers=_auth(hub.alice), timeout=300
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["generated_text"] == full.removeprefix("The knight")
    assert 1 <= answer.json()["details"]["generated_tokens"] <= 6
    with requests.post(
        f"{_url(hub, gpt2_id)}/generate_stream", json=body, headers=_auth(hub.alice),
        stream=True, timeout=300,
    ) as streamed:  # fmt: skip
        assert streamed.headers["content-type"].startswith("text/event-stream")
        events = list(_events(streamed))
    assert "".join(e["token"]["text"] for e in events) == answer.json()["generated_text"]
    assert events[-1]["generated_text"] == answer.json()["generated_text"]
    assert events[-1]["details"] == answer.json()["details"]


def test_inference_client_streaming_still_works(hub: Hub, gpt2_id: str) -> None:
    client = InferenceClient(model=_url(hub, gpt2_id), token=hub.alice)
    whole = client.text_generation("The knight", **GREEDY)
    pieces = list(client.text_generation("The knight", stream=True, **GREEDY))
    assert "".join(pieces) == whole.removeprefix("The knight")


def test_info(hub: Hub, gpt2_id: str) -> None:
    client = InferenceClient(model=_url(hub, gpt2_id), provider="hf-inference", token=hub.alice)
    info = client.get_endpoint_info()
    sha = httpx.get(f"{hub.endpoint}/api/models/{gpt2_id}").json()["sha"]
    assert info["model_id"] == gpt2_id and info["model_sha"] == sha
    assert info["model_pipeline_tag"] == "text-generation"
    assert info["model_device_type"] == "cpu" and info["max_total_tokens"] == 64


def test_status_follows_loading(hub: Hub, folders: dict[str, Path]) -> None:
    repo_id = _import(hub, folders["bert"], "status")
    status = httpx.get(f"{hub.endpoint}/status/{repo_id}")
    assert status.status_code == 200, status.text
    assert status.json() == {
        "loaded": False, "state": "Loadable", "compute_type": "cpu", "framework": "transformers"
    }  # fmt: skip
    ran = httpx.post(_url(hub, repo_id), json={"inputs": "A knight."}, timeout=300)
    assert ran.status_code == 200
    loaded = httpx.get(f"{hub.endpoint}/status/{repo_id}").json()
    assert loaded["loaded"] is True and loaded["state"] == "Loaded"


# --- response cache --------------------------------------------------------------------------


def test_deterministic_answers_come_from_the_cache(hub: Hub, classifier_id: str) -> None:
    body = {"inputs": f"A brave knight {unique()}."}
    first = httpx.post(_url(hub, classifier_id), json=body, timeout=300)
    second = httpx.post(_url(hub, classifier_id), json=body, timeout=300)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert first.json() == second.json()
    fresh = httpx.post(
        _url(hub, classifier_id), json=body, headers={"x-use-cache": "false"}, timeout=300
    )
    assert fresh.headers["x-cache"] == "MISS" and fresh.json() == first.json()
    option = httpx.post(
        _url(hub, classifier_id), json={**body, "options": {"use_cache": False}}, timeout=300
    )
    assert option.headers["x-cache"] == "MISS"


def test_sampled_generations_are_never_cached(hub: Hub, gpt2_id: str) -> None:
    body = {"inputs": "The knight", "parameters": {"max_new_tokens": 2, "temperature": 0.9}}
    for _ in range(2):
        answer = httpx.post(_url(hub, gpt2_id), json=body, headers=_auth(hub.alice), timeout=300)
        assert answer.status_code == 200 and "x-cache" not in answer.headers


# --- metrics ---------------------------------------------------------------------------------


def _samples(hub: Hub, token: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(f"{hub.endpoint}/metrics", headers=_auth(token))
    assert response.status_code == 200, response.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_move_with_requests(
    hub: Hub, admin_token: str, classifier_id: str, gpt2_id: str
) -> None:
    route = "/models/{namespace}/{name}"
    ok = frozenset({("model", classifier_id), ("route", route), ("status", "200")})
    before = _samples(hub, admin_token).get(("hugbox_request_count_total", ok), 0.0)
    httpx.post(_url(hub, classifier_id), json={"inputs": f"x {unique()}"}, timeout=300)
    body = {"inputs": "The knight", "parameters": GREEDY}
    httpx.post(f"{_url(hub, gpt2_id)}/generate", json=body, timeout=300)
    after = _samples(hub, admin_token)
    assert after[("hugbox_request_count_total", ok)] == before + 1
    assert after[("hugbox_loaded_models", frozenset())] >= 1
    model = frozenset({("model", classifier_id)})
    assert after[("hugbox_batch_size_count", model)] >= 1
    assert after[("hugbox_request_queue_duration_count", model)] >= 1
    loads = frozenset({("model", classifier_id), ("task", "text-classification"), ("result", "ok")})
    assert after[("hugbox_model_load_count_total", loads)] == 1
    tokens = after[("hugbox_request_generated_tokens_sum", frozenset({("model", gpt2_id)}))]
    assert tokens >= 1
    assert after[("hugbox_cache_hit_total", frozenset())] >= 0


def test_metrics_need_an_admin(hub: Hub) -> None:
    assert httpx.get(f"{hub.endpoint}/metrics").status_code == 401
    assert httpx.get(f"{hub.endpoint}/metrics", headers=_auth(hub.bob)).status_code == 403


# --- access and errors -----------------------------------------------------------------------


def test_private_models_stay_hidden_on_every_route(hub: Hub, private_gpt2_id: str) -> None:
    url = _url(hub, private_gpt2_id)
    generate = {"inputs": "The knight", "parameters": GREEDY}
    complete = {"model": private_gpt2_id, "prompt": "The knight", "max_tokens": 2}
    calls = [
        ("POST", f"{url}/generate", generate),
        ("POST", f"{url}/generate_stream", generate),
        ("POST", f"{url}/v1/completions", complete),
        ("POST", f"{hub.endpoint}/v1/completions", complete),
        ("GET", f"{url}/info", None),
        ("GET", f"{hub.endpoint}/status/{private_gpt2_id}", None),
    ]
    for method, target, body in calls:
        for token, status in ((None, 401), (hub.bob, 404)):
            response = httpx.request(method, target, json=body, headers=_auth(token), timeout=60)
            assert response.status_code == status, (target, token, response.text)
            assert response.headers["x-error-code"] == "RepoNotFound"
    for target in (f"{url}/info", f"{hub.endpoint}/status/{private_gpt2_id}"):
        assert httpx.get(target, headers=_auth(hub.alice)).status_code == 200


def test_malformed_bodies_are_4xx(hub: Hub, gpt2_id: str, classifier_id: str) -> None:
    url = _url(hub, gpt2_id)
    json_type = {"content-type": "application/json"}
    raw = [(f"{url}/generate", b"{not json"), (f"{url}/generate_stream", b'["a list"]')]
    bodies = [
        (f"{url}/generate", {"inputs": 3}),
        (f"{url}/generate", {"inputs": "x", "parameters": ["max_new_tokens"]}),
        (f"{url}/generate", {"inputs": "x", "parameters": {"max_new_tokens": -1}}),
        (f"{url}/generate_stream", {"parameters": {}}),
        (f"{_url(hub, classifier_id)}/generate", {"inputs": "x"}),
        (f"{hub.endpoint}/v1/completions", {"model": gpt2_id}),
        (f"{hub.endpoint}/v1/completions", {"model": gpt2_id, "prompt": ["a", "b"]}),
        (f"{hub.endpoint}/v1/completions", {"model": gpt2_id, "prompt": "a", "n": 2}),
        (f"{hub.endpoint}/v1/completions", {"model": gpt2_id, "prompt": "a", "max_tokens": "9"}),
        (f"{hub.endpoint}/v1/completions", {"prompt": "a"}),
        (f"{url}/v1/completions", {"prompt": [1, 2, 3]}),
    ]
    responses = [httpx.post(t, content=b, headers=json_type, timeout=120) for t, b in raw]
    responses += [httpx.post(t, json=b, timeout=120) for t, b in bodies]
    for response in responses:
        assert response.status_code in (400, 422), (response.request.url, response.text)
        assert response.json()["error"]


def test_a_stream_that_cannot_start_is_an_http_error(hub: Hub, tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text(
        '{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}'
    )
    (folder / "model.safetensors").write_bytes(b"not a safetensors file" * 100)
    url = _url(hub, _import(hub, folder, "broken"))
    body = {"inputs": "The knight", "parameters": GREEDY}
    response = httpx.post(f"{url}/generate_stream", json=body, timeout=300)
    # A repo whose files do not load is the repo's fault: a 400, as HF's classic API answered.
    assert response.status_code == 400
    assert "Could not load model" in response.json()["error"]


# --- the CLI ---------------------------------------------------------------------------------


def test_hugbox_infer_prints_the_answer(hub: Hub, classifier_id: str) -> None:
    result = hub.cli("infer", classifier_id, "A brave knight.", "--parameters", '{"top_k": 1}')
    assert result.returncode == 0, result.stderr
    # The worker exits on its own: nothing it made is reported leaked when the CLI exits.
    assert "leaked" not in result.stderr and "resource_tracker" not in result.stderr
    [[best]] = json.loads(result.stdout)
    assert best["label"] in ("neg", "neu", "pos")
    missing = hub.cli("infer", "alice/no-such-model", "x")
    assert missing.returncode == 1 and "no-such-model" in missing.stderr
