"""Which file fetches count as a download, as huggingface.co counts them (spec/community-plans.md
§4.6, HF's `models-download-stats.md` and `datasets-download-stats.md`).

A model counts the GET or HEAD of a "query file": the library's own (huggingface.js
`model-libraries.ts`, `countDownloads`), else the default ones; every GGUF file counts whatever
the library. A dataset counts any file. A space counts none. One visitor (the user, or the IP
when anonymous) counts once per repo and 5-minute window (`usage/downloads.py`).
"""

from __future__ import annotations

import fnmatch
import re
from functools import cache

from hugbox.repos.models import RepoType

WINDOW_SECONDS = 300

DEFAULT_QUERY_FILES = ("config.json", "config.yaml", "hyperparams.yaml", "params.json", "meta.yaml")
# library_name: its query files, as glob patterns matched against the whole path ("*" in a
# pattern does not cross a "/": top-level files only, as HF's `path:` terms).
LIBRARY_QUERY_FILES: dict[str, tuple[str, ...]] = {
    "diffusers": (
        "model_index.json", "modular_model_index.json", "*.safetensors", "*.ckpt", "*.bin",
    ),
    "nemo": ("*.nemo", "model_config.yaml"),
    "open_clip": ("open_clip_config.json", "open_clip_pytorch_model.bin"),
    "timm": ("pytorch_model.bin", "model.safetensors"),
    "sklearn": ("sklearn_model.joblib", "skops*"),
    "spacy": ("*.whl",),
    "peft": ("adapter_config.json",),
    "keras": ("saved_model.pb", "*.keras"),
    "tf-keras": ("saved_model.pb",),
    "stable-baselines3": ("*.zip",),
    "ml-agents": ("*.onnx",),
    "speechbrain": ("hyperparams.yaml",),
}  # fmt: skip


def counts_as_download(repo_type: RepoType, library: str | None, path: str) -> bool:
    """Whether fetching `path` of a repo of this type and library is a download."""
    if repo_type is RepoType.DATASET:
        return True
    if repo_type is not RepoType.MODEL:
        return False
    return _query_files((library or "").lower()).match(path) is not None


@cache
def _query_files(library: str) -> re.Pattern[str]:
    """One expression per library (every download asks): its query files at the top level
    ("*" does not cross a "/", as HF's `path:` terms), or a GGUF file anywhere."""
    patterns = LIBRARY_QUERY_FILES.get(library, DEFAULT_QUERY_FILES)
    top_level = "|".join(fnmatch.translate(p).replace(".*", "[^/]*") for p in patterns)
    return re.compile(rf"(?:(?!.*/)(?:{top_level}))|(?si:.*\.gguf)\Z")


def window_of(epoch_seconds: float) -> int:
    return int(epoch_seconds) // WINDOW_SECONDS
