"""Encoder models on ONNX Runtime (issue 22), on live hubs with the stock InferenceClient: the
ONNX answers equal transformers' on every task it takes, a model ONNX Runtime cannot run stays
on transformers with the reason in the log, int8 below the configured agreement is refused with
a clear error, and the export cache outlives a restart. Workers log which backend serves a model
("onnx: <commit> now runs on ONNX Runtime: ..."); tests wait for that line."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)

from support import create_token, run_cli, running_hub
from tiny_models import wordpiece_tokenizer

# Exports take tens of seconds each on 2 busy cores: more than the default 600 s per test.
pytestmark = [pytest.mark.compat, pytest.mark.timeout(1500)]

TEXT = ["The knight rode to the castle.", "A story about a brave knight.", "Write a story."]
SENTENCE = "A story about a brave knight."
ST_MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
]
EMBEDDER, CLASSIFIER = "alice/embedder", "alice/classifier"
TAGGER, MASKER = "alice/tagger", "alice/masker"
INT8 = "alice/embedder-int8"  # its README asks for int8
BF16 = "alice/classifier-bf16"  # bf16 weights: ONNX Runtime's CPU kernels take no bf16
ONNX_ON = {"HUGBOX_INFERENCE_ONNX": "true"}
SWITCH_TIMEOUT_S = 420.0  # exports run in parallel on a busy 2-core machine


def _config(vocab_size: int, **extra: Any) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64, num_labels=3,
        id2label={0: "O", 1: "B-PER", 2: "I-PER"}, label2id={"O": 0, "B-PER": 1, "I-PER": 2},
        **extra,
    )  # fmt: skip


def _build(root: Path) -> dict[str, Path]:
    tokenizer = wordpiece_tokenizer(TEXT)
    config = _config(len(tokenizer))
    torch.manual_seed(0)
    embedder = BertModel(config)
    models = {
        EMBEDDER: embedder, CLASSIFIER: BertForSequenceClassification(config),
        TAGGER: BertForTokenClassification(config), MASKER: BertForMaskedLM(config),
        INT8: copy.deepcopy(embedder),
        BF16: BertForSequenceClassification(config).to(torch.bfloat16),
    }  # fmt: skip
    tags = {CLASSIFIER: "text-classification", TAGGER: "token-classification",
            MASKER: "fill-mask", BF16: "text-classification"}  # fmt: skip
    folders = {}
    for repo_id, model in models.items():
        folder = folders[repo_id] = root / repo_id.split("/")[1]
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        meta = {"pipeline_tag": tags.get(repo_id, "feature-extraction")}
        if repo_id == INT8:
            meta["inference"] = {"quantization": "int8"}  # type: ignore[assignment]
        if repo_id in (EMBEDDER, INT8):
            (folder / "modules.json").write_text(json.dumps(ST_MODULES))
        (folder / "README.md").write_text(f"---\n{json.dumps(meta)}\n---\n# {repo_id}\n")
    return folders


@dataclass(frozen=True)
class Library:
    data_dir: Path
    token: str


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    data_dir = tmp_path_factory.mktemp("onnx-data")
    assert run_cli(data_dir, "user", "create", "alice", "--password", "pw-alice").returncode == 0
    token = create_token(data_dir, "alice", "write")
    for repo_id, folder in _build(tmp_path_factory.mktemp("onnx-models")).items():
        result = run_cli(data_dir, "import", str(folder), repo_id)
        assert result.returncode == 0, result.stderr
    return Library(data_dir, token)


@dataclass(frozen=True)
class LiveHub:
    endpoint: str
    log_path: Path
    token: str

    def client(self, repo_id: str) -> InferenceClient:
        # Every call reaches the worker: the response cache would hide which backend answered.
        headers = {"x-use-cache": "false"}
        url = f"{self.endpoint}/models/{repo_id}"
        return InferenceClient(url, token=self.token, headers=headers)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, needle: str, count: int = 1) -> None:
        deadline = time.monotonic() + SWITCH_TIMEOUT_S
        while self.log().count(needle) < count:
            assert time.monotonic() < deadline, f"no {needle!r} in the log:\n{self.log()[-3000:]}"
            time.sleep(0.5)


@contextmanager
def live_hub(library: Library, name: str, env: dict[str, str]) -> Iterator[LiveHub]:
    log_path = library.data_dir / f"{name}.log"
    with running_hub(library.data_dir, env=env, log_path=log_path) as endpoint:
        yield LiveHub(endpoint, log_path, library.token)


def _calls(hub: LiveHub) -> dict[str, Any]:
    """One call per ONNX task, through the client's own methods."""
    masked = "The knight rode to the [MASK]."
    return {
        "feature-extraction": hub.client(EMBEDDER).feature_extraction(SENTENCE),
        "sentence-similarity": hub.client(EMBEDDER).sentence_similarity(SENTENCE, TEXT),
        "text-classification": hub.client(CLASSIFIER).text_classification(SENTENCE, top_k=3),
        "token-classification": hub.client(TAGGER).token_classification(SENTENCE),
        "fill-mask": hub.client(MASKER).fill_mask(masked, top_k=5),
    }


def _scores(answer: Any) -> list[float]:
    return [float(item.score) for item in answer]


def _assert_same(onnx: dict[str, Any], reference: dict[str, Any]) -> None:
    np.testing.assert_allclose(onnx["feature-extraction"], reference["feature-extraction"],
                               atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(onnx["sentence-similarity"], reference["sentence-similarity"],
                               atol=1e-5)  # fmt: skip
    for task in ("text-classification", "fill-mask"):
        assert [item.label if task == "text-classification" else item.token_str
                for item in onnx[task]] == [
            item.label if task == "text-classification" else item.token_str
            for item in reference[task]]  # fmt: skip
        np.testing.assert_allclose(_scores(onnx[task]), _scores(reference[task]), atol=1e-5)
    tagged, expected = onnx["token-classification"], reference["token-classification"]
    assert [(t.entity_group, t.word, t.start, t.end) for t in tagged] == [
        (t.entity_group, t.word, t.start, t.end) for t in expected]  # fmt: skip
    np.testing.assert_allclose(_scores(tagged), _scores(expected), atol=1e-5)


@dataclass(frozen=True)
class Switched:
    before: dict[str, Any]  # answered by transformers, while the exports ran
    after: dict[str, Any]  # answered by ONNX Runtime
    log: str


@pytest.fixture(scope="module")
def switched(library: Library) -> Switched:
    """One call per task before and after the workers moved to ONNX Runtime. The first answers
    come from transformers: a worker reports ready, answers, and only then exports."""
    with live_hub(library, "onnx", ONNX_ON) as hub:
        before = _calls(hub)
        hub.wait_for_log("now runs on ONNX Runtime: fp32", count=4)
        return Switched(before, _calls(hub), hub.log())


def test_onnx_answers_equal_transformers_on_every_task(
    library: Library, switched: Switched
) -> None:
    _assert_same(switched.after, switched.before)
    assert switched.log.count(" exported Bert") == 4  # sentence-similarity shares the embedder's
    exports = list(library.data_dir.rglob("*.onnx/*.agreement.json"))
    agreements = [json.loads(path.read_text()) for path in exports]
    assert len(agreements) == 4
    assert all(a["ok"] and a["cosine"] >= 0.99999 for a in agreements), agreements


def test_export_cache_is_reused_after_a_restart(library: Library, switched: Switched) -> None:
    exports = {path: path.stat().st_mtime_ns for path in library.data_dir.rglob("*.onnx/*.onnx")}
    with live_hub(library, "restart", ONNX_ON) as hub:
        hub.client(EMBEDDER).feature_extraction(SENTENCE)
        hub.wait_for_log("now runs on ONNX Runtime: fp32")
        assert "reuses its export" in hub.log()
        assert " exported Bert" not in hub.log()
        vector = hub.client(EMBEDDER).feature_extraction(SENTENCE)
        np.testing.assert_allclose(vector, switched.before["feature-extraction"], atol=1e-5)
    assert exports, "the first test left no exports"
    assert {path: path.stat().st_mtime_ns for path in exports} == exports


def test_a_model_onnx_runtime_cannot_run_stays_on_transformers(library: Library) -> None:
    with live_hub(library, "bf16", ONNX_ON) as hub:
        first = hub.client(BF16).text_classification(SENTENCE)
        hub.wait_for_log("stays on transformers")
        reason = hub.log().split("stays on transformers:")[1].splitlines()[0]
        assert "ONNX Runtime" in reason or "export failed" in reason, reason
        answer = hub.client(BF16).text_classification(SENTENCE)
    assert [(a.label, a.score) for a in answer] == [(a.label, a.score) for a in first]


def test_int8_is_served_with_its_agreement_and_refused_below_the_threshold(
    library: Library, switched: Switched
) -> None:
    with live_hub(library, "int8", ONNX_ON) as hub:
        vector = np.array(hub.client(INT8).feature_extraction(SENTENCE)).ravel()
        assert "now runs on ONNX Runtime: int8 ONNX agrees with transformers at cosine" in hub.log()
    expected = np.array(switched.before["feature-extraction"]).ravel()
    cosine = vector @ expected / np.linalg.norm(vector) / np.linalg.norm(expected)
    assert cosine > 0.99  # INT8 is a copy of the embedder
    strict = {**ONNX_ON, "HUGBOX_INFERENCE_INT8_MIN_COSINE": "0.99999999"}
    with live_hub(library, "int8-strict", strict) as hub, pytest.raises(HfHubHTTPError) as refused:
        hub.client(INT8).feature_extraction(SENTENCE)
    assert refused.value.response.status_code == 400
    message = str(refused.value)
    assert "refused: int8 ONNX agrees with transformers at cosine" in message
    assert "required 0.99999999" in message
