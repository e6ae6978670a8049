"""transformers against a live hub: push a tiny GPT-2 and its tokenizer, then load them the ways
users do (pipeline with and without a task, Auto classes by id, branch and sha, private, sharded,
legacy single-segment ids). Everything is built in the test; nothing leaves the machine."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import torch
from huggingface_hub import HfApi, constants, hf_hub_download, model_info
from huggingface_hub.errors import RepositoryNotFoundError
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerBase,
    pipeline,
    set_seed,
)

from support import Hub, add_legacy_alias, unique
from tiny_models import EOS, bpe_tokenizer

pytestmark = pytest.mark.compat
T = TypeVar("T")

SENTENCES = [
    "The student worked on a tiny language model.",
    "The teacher read the paper and worked on the slides.",
    "A small model can still generate a few words of text.",
    "The student wrote tests for the hub and the hub served the files.",
]


def _tiny_gpt2(vocab_size: int, seed: int) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size, n_positions=64, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    return GPT2LMHeadModel(config).eval()


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    left, right = a.state_dict(), b.state_dict()
    return left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left)


@dataclass(frozen=True)
class Pushed:
    repo_id: str
    model: GPT2LMHeadModel
    tokenizer: PreTrainedTokenizerBase


def _push(repo_id: str, token: str, *, seed: int = 0, **kwargs: Any) -> Pushed:
    tokenizer = bpe_tokenizer(SENTENCES)
    model = _tiny_gpt2(len(tokenizer), seed)
    model.push_to_hub(repo_id, token=token, **kwargs)
    tokenizer.push_to_hub(repo_id, token=token, **kwargs)
    return Pushed(repo_id, model, tokenizer)


@pytest.fixture(scope="module")
def gpt2(hub: Hub) -> Pushed:
    return _push(f"alice/{unique('tiny-gpt2')}", hub.alice)


def test_push_to_hub_makes_a_transformers_repo(hub: Hub, gpt2: Pushed) -> None:
    info = model_info(gpt2.repo_id)
    files = {s.rfilename for s in info.siblings or []}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= files
    assert info.pipeline_tag == "text-generation"
    assert info.library_name == "transformers"


@pytest.mark.parametrize("with_task", [True, False], ids=["task", "no-task"])
def test_pipeline_generates(gpt2: Pushed, with_task: bool) -> None:
    if with_task:
        generator = pipeline("text-generation", model=gpt2.repo_id)
    else:  # the task comes from model_info's pipeline_tag
        generator = pipeline(model=gpt2.repo_id)
    assert generator.task == "text-generation"
    set_seed(42)
    outputs = generator("The student worked on", max_length=30, num_return_sequences=2)
    assert len(outputs) == 2
    assert all(out["generated_text"].startswith("The student worked on") for out in outputs)


def test_auto_classes_load_by_repo_id(gpt2: Pushed) -> None:
    tokenizer = AutoTokenizer.from_pretrained(gpt2.repo_id)
    model = AutoModelForCausalLM.from_pretrained(gpt2.repo_id)
    assert _same_weights(model, gpt2.model)
    text = "The student worked on the hub."
    assert tokenizer(text)["input_ids"] == gpt2.tokenizer(text)["input_ids"]
    assert tokenizer.eos_token == EOS


def test_second_load_reuses_the_cache(gpt2: Pushed) -> None:
    AutoModelForCausalLM.from_pretrained(gpt2.repo_id)
    blobs = _cache_dir(gpt2.repo_id) / "blobs"
    before = {p.name: p.stat().st_mtime_ns for p in blobs.iterdir()}
    again = AutoModelForCausalLM.from_pretrained(gpt2.repo_id)
    assert {p.name: p.stat().st_mtime_ns for p in blobs.iterdir()} == before
    assert _same_weights(again, gpt2.model)
    cached = AutoModelForCausalLM.from_pretrained(gpt2.repo_id, local_files_only=True)
    assert _same_weights(cached, gpt2.model)


def _cache_dir(repo_id: str) -> Path:
    return Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))


def test_load_by_branch_and_by_commit_sha(hub: Hub) -> None:
    first = _push(f"alice/{unique('tiny-revs')}", hub.alice, seed=1)
    first_sha = model_info(first.repo_id).sha
    assert first_sha is not None
    HfApi(token=hub.alice).create_branch(first.repo_id, branch="dev")
    dev = _push(first.repo_id, hub.alice, seed=2, revision="dev")
    main = _push(first.repo_id, hub.alice, seed=3)

    loaded_main = AutoModelForCausalLM.from_pretrained(first.repo_id)
    loaded_dev = AutoModelForCausalLM.from_pretrained(first.repo_id, revision="dev")
    loaded_sha = AutoModelForCausalLM.from_pretrained(first.repo_id, revision=first_sha)
    assert _same_weights(loaded_main, main.model)
    assert _same_weights(loaded_dev, dev.model)
    assert _same_weights(loaded_sha, first.model)
    tokenizer = AutoTokenizer.from_pretrained(first.repo_id, revision=first_sha)
    assert tokenizer.eos_token == EOS


def test_private_model_needs_the_token(hub: Hub) -> None:
    private = _push(f"alice/{unique('tiny-private')}", hub.alice, private=True)
    assert model_info(private.repo_id, token=hub.alice).private

    # Before anything is cached: huggingface_hub serves a cached copy when the HEAD is refused.
    for token in (None, hub.bob):
        with pytest.raises(OSError, match="not a valid model identifier") as excinfo:
            AutoModelForCausalLM.from_pretrained(private.repo_id, token=token)
        assert isinstance(excinfo.value.__cause__, RepositoryNotFoundError)
    model = AutoModelForCausalLM.from_pretrained(private.repo_id, token=hub.alice)
    assert _same_weights(model, private.model)
    assert AutoTokenizer.from_pretrained(private.repo_id, token=hub.alice).eos_token == EOS


def test_sharded_checkpoint_loads(hub: Hub) -> None:
    sharded = _push(f"alice/{unique('tiny-sharded')}", hub.alice, max_shard_size="40KB")
    files = set(HfApi().list_repo_files(sharded.repo_id))
    shards = {f for f in files if f.startswith("model-") and f.endswith(".safetensors")}
    assert "model.safetensors.index.json" in files
    assert "model.safetensors" not in files
    assert len(shards) > 1
    index = json.loads(
        Path(hf_hub_download(sharded.repo_id, "model.safetensors.index.json")).read_text()
    )
    assert set(index["weight_map"].values()) == shards

    model = AutoModelForCausalLM.from_pretrained(sharded.repo_id)
    assert _same_weights(model, sharded.model)


def _eventually(load: Callable[[], T], seconds: float = 10.0) -> T:
    """The server reloads its legacy-id table every few seconds: retry until it has ours."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return load()
        except OSError:  # RepositoryNotFoundError and transformers' wrapper are both OSErrors
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_legacy_single_segment_id(hub: Hub) -> None:
    alias = unique("tiny-legacy")
    legacy = _push(f"acme/{alias}", hub.alice)
    add_legacy_alias(hub.data_dir, legacy.repo_id, alias)

    config = _eventually(lambda: AutoConfig.from_pretrained(alias))
    assert config.n_embd == legacy.model.config.n_embd
    assert config.architectures == ["GPT2LMHeadModel"]
    assert model_info(alias).id == legacy.repo_id
    path = Path(hf_hub_download(alias, "config.json"))
    assert json.loads(path.read_text())["n_layer"] == 2
