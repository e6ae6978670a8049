"""Which fetches count as a download: HF's query files per library, every GGUF, any dataset file."""

from __future__ import annotations

import pytest

from hugbox.repos.models import RepoType
from hugbox.usage.rules import counts_as_download, window_of

MODEL, DATASET, SPACE = RepoType.MODEL, RepoType.DATASET, RepoType.SPACE


@pytest.mark.parametrize(
    ("repo_type", "library", "path", "counts"),
    [
        (MODEL, "transformers", "config.json", True),
        (MODEL, "transformers", "model.safetensors", False),
        (MODEL, "transformers", "tokenizer.json", False),
        (MODEL, None, "config.json", True),
        (MODEL, None, "params.json", True),
        (MODEL, None, "sub/config.json", False),  # query files are top-level
        (MODEL, None, "q4.gguf", True),
        (MODEL, "transformers", "deep/in/a/folder/Q8_0.GGUF", True),  # every GGUF
        (MODEL, "diffusers", "model_index.json", True),
        (MODEL, "diffusers", "v1-5.safetensors", True),
        (MODEL, "diffusers", "unet/diffusion_pytorch_model.safetensors", False),
        (MODEL, "diffusers", "config.json", False),
        (MODEL, "nemo", "asr.nemo", True),
        (DATASET, None, "data/train-00000.parquet", True),
        (DATASET, None, "README.md", True),
        (SPACE, None, "app.py", False),
        (SPACE, None, "config.json", False),
    ],
)
def test_counts_as_download(
    repo_type: RepoType, library: str | None, path: str, counts: bool
) -> None:
    assert counts_as_download(repo_type, library, path) is counts


def test_windows_are_five_minutes() -> None:
    assert window_of(0) == window_of(299) == 0
    assert window_of(300) == 1
