"""Download counts as huggingface.co computes them, driven by the stock clients: a transformers
model counts its `config.json`, a GGUF repo every GGUF, a dataset any file; one visitor (a user,
or an IP when anonymous) counts once per repo and 5-minute window. `downloads` (30 days),
`downloadsAllTime` and `trendingScore` come back in `model_info`, and listings sort by them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from transformers import AutoConfig

from support import Hub, unique

pytestmark = pytest.mark.compat


def eventually(check: Callable[[], bool], timeout: float = 20) -> None:
    """Counts are written off the request path, about a second later: wait for them."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the downloads were not counted in time"
        time.sleep(0.2)


def counts(api: HfApi, repo_id: str, repo_type: str = "model") -> tuple[int, int]:
    expand = ["downloads", "downloadsAllTime"]
    info = api.repo_info(repo_id, repo_type=repo_type, expand=expand)  # type: ignore[arg-type]
    return info.downloads or 0, getattr(info, "downloads_all_time", None) or 0


def settled(api: HfApi, repo_id: str, expected: int, repo_type: str = "model") -> None:
    """The counts reach `expected` and stay there (nothing counted twice later)."""
    eventually(lambda: counts(api, repo_id, repo_type) == (expected, expected))
    time.sleep(1.5)
    assert counts(api, repo_id, repo_type) == (expected, expected)


def test_transformers_model_counts_config_json(hub: Hub) -> None:
    alice = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = alice.create_repo(f"alice/{unique('dl-tf')}").repo_id
    config = {"model_type": "bert", "hidden_size": 8, "num_attention_heads": 2,
              "num_hidden_layers": 1, "intermediate_size": 8, "vocab_size": 10}  # fmt: skip
    card = b"---\nlibrary_name: transformers\n---\n"
    files = {"config.json": json.dumps(config).encode(), "model.safetensors": b"\0" * 64,
             "tokenizer.json": b"{}", "README.md": card}  # fmt: skip
    for path, data in files.items():
        alice.upload_file(path_or_fileobj=data, path_in_repo=path, repo_id=repo_id)
    # alice: from_pretrained's config, then a whole snapshot, in one window: one download.
    AutoConfig.from_pretrained(repo_id, token=hub.alice, force_download=True)
    snapshot_download(repo_id, token=hub.alice, force_download=True)
    # bob: weights alone are no download; the config is.
    hf_hub_download(repo_id, "model.safetensors", token=hub.bob)
    settled(alice, repo_id, 1)
    hf_hub_download(repo_id, "config.json", token=hub.bob, force_download=True)
    # An anonymous caller is counted by IP, once however often it asks.
    for _ in range(2):
        hf_hub_download(repo_id, "config.json", token=False, force_download=True)
    settled(alice, repo_id, 3)
    assert alice.model_info(repo_id, expand=["trendingScore"]).trending_score == 3


def test_gguf_repo_counts_every_gguf(hub: Hub) -> None:
    alice = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = alice.create_repo(f"alice/{unique('dl-gguf')}").repo_id
    files = {"model-Q4_K_M.gguf": b"GGUF" + b"\0" * 60, "model-Q8_0.gguf": b"GGUF" + b"\1" * 60,
             "NOTES.txt": b"A quantised model\n"}  # fmt: skip
    for path, data in files.items():
        alice.upload_file(path_or_fileobj=data, path_in_repo=path, repo_id=repo_id)
    hf_hub_download(repo_id, "NOTES.txt", token=hub.carol)  # not a query file
    time.sleep(1.5)
    assert counts(alice, repo_id) == (0, 0)
    hf_hub_download(repo_id, "model-Q4_K_M.gguf", token=hub.alice)
    hf_hub_download(repo_id, "model-Q8_0.gguf", token=hub.alice)  # same visitor, same window
    hf_hub_download(repo_id, "model-Q8_0.gguf", token=hub.bob)
    settled(alice, repo_id, 2)


def test_dataset_counts_any_file_once_per_window(hub: Hub) -> None:
    alice = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = alice.create_repo(f"alice/{unique('dl-ds')}", repo_type="dataset").repo_id
    for path in ("data/train.csv", "data/test.csv", "NOTES.txt"):
        alice.upload_file(
            path_or_fileobj=b"a,b\n1,2\n", path_in_repo=path, repo_id=repo_id, repo_type="dataset"
        )
    snapshot_download(repo_id, repo_type="dataset", token=hub.alice)
    snapshot_download(repo_id, repo_type="dataset", token=hub.alice, force_download=True)
    hf_hub_download(repo_id, "data/test.csv", repo_type="dataset", token=False)
    settled(alice, repo_id, 2, "dataset")


def test_listings_sort_by_downloads_and_trending(hub: Hub) -> None:
    alice = HfApi(endpoint=hub.endpoint, token=hub.alice)
    tag = unique("dl-sort")
    popular, quiet = f"alice/{tag}-popular", f"alice/{tag}-quiet"
    for repo_id in (quiet, popular):
        alice.create_repo(repo_id)
        alice.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=repo_id)
    for token in (hub.alice, hub.bob):
        hf_hub_download(popular, "config.json", token=token)
    hf_hub_download(quiet, "config.json", token=hub.alice)
    settled(alice, popular, 2)
    for sort in ("downloads", "trending_score"):
        listed = list(alice.list_models(search=tag, sort=sort))  # type: ignore[arg-type]
        assert [(m.id, m.downloads, m.trending_score) for m in listed] == [
            (popular, 2, 2),
            (quiet, 1, 1),
        ], sort
