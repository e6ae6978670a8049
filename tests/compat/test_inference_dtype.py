"""What dtype a model computes in (inference/worker/precision.py), on a live hub with the stock
InferenceClient: a bfloat16 checkpoint runs in float32 on a CPU without bf16 instructions and in
bfloat16 where the CPU has them (`auto`), and always in bfloat16 with
HUGBOX_INFERENCE_DTYPE=checkpoint (`hugbox infer` too). The scores tell which: bf16 arithmetic
rounds them visibly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import InferenceClient
from transformers import BertConfig, BertForSequenceClassification, pipeline

from hugbox.inference.worker import precision
from support import create_token, run_cli, running_hub
from tiny_models import wordpiece_tokenizer

pytestmark = pytest.mark.compat

REPO_ID = "alice/classifier-bf16"
TEXT = "The knight rode to the castle at dawn."
OFF = {"HUGBOX_INFERENCE_ONNX": "false"}  # transformers answers, whatever the CPU


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bf16") / "classifier"
    tokenizer = wordpiece_tokenizer([TEXT])
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=96, max_position_embeddings=64, num_labels=4,
        initializer_range=0.2,  # peaked scores, which bf16's rounding moves visibly
    )  # fmt: skip
    torch.manual_seed(0)
    BertForSequenceClassification(config).to(torch.bfloat16).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "README.md").write_text("---\npipeline_tag: text-classification\n---\n# bf16\n")
    return folder


def _local_scores(folder: Path, dtype: torch.dtype) -> list[float]:
    classify = pipeline("text-classification", model=str(folder), dtype=dtype, device="cpu")
    return sorted(item["score"] for item in classify(TEXT, top_k=None))


def _hub_scores(data_dir: Path, token: str, env: dict[str, str]) -> list[float]:
    with running_hub(data_dir, env={**OFF, **env}) as endpoint:
        client = InferenceClient(f"{endpoint}/models/{REPO_ID}", token=token)
        return sorted(item.score for item in client.text_classification(TEXT, top_k=4))


def test_a_bf16_checkpoint_computes_in_what_the_cpu_runs_well(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli(tmp_path, "user", "create", "alice", "--password", "pw-alice").returncode == 0
    token = create_token(tmp_path, "alice", "write")
    imported = run_cli(tmp_path, "import", str(model), REPO_ID)
    assert imported.returncode == 0, imported.stderr
    in_fp32, in_bf16 = _local_scores(model, torch.float32), _local_scores(model, torch.bfloat16)
    assert np.abs(np.subtract(in_fp32, in_bf16)).max() > 1e-3  # the scores do tell them apart

    native = "bfloat16" in precision.native_half_precision()
    auto = _hub_scores(tmp_path, token, {})
    np.testing.assert_allclose(auto, in_bf16 if native else in_fp32, atol=1e-6)
    kept = _hub_scores(tmp_path, token, {"HUGBOX_INFERENCE_DTYPE": "checkpoint"})
    np.testing.assert_allclose(kept, in_bf16, atol=1e-6)
    # `hugbox infer` loads the model the way the server does.
    monkeypatch.setenv("HUGBOX_INFERENCE_DTYPE", "checkpoint")
    result = run_cli(tmp_path, "infer", REPO_ID, TEXT, "--parameters", '{"top_k": 4}')
    assert result.returncode == 0, result.stderr
    [answers] = json.loads(result.stdout)
    np.testing.assert_allclose(sorted(a["score"] for a in answers), in_bf16, atol=1e-6)
