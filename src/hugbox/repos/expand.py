"""`expand=`: exactly the properties huggingface_hub 2.4 may ask for, per repo type
(`hf_api.py::Expand*Property_T`); anything else is HF's 400, whose quoted list the client's
tests parse (spec community-plans §4.6)."""

from __future__ import annotations

from hugbox.errors import BadRequest
from hugbox.repos.models import RepoType

_SHARED = ("author", "cardData", "createdAt", "disabled", "lastModified", "likes", "private",
           "resourceGroup", "sha", "siblings", "tags", "trendingScore", "usedStorage")  # fmt: skip
_MODEL = ("baseModels", "childrenModelCount", "config", "downloads", "downloadsAllTime",
          "evalResults", "gated", "gguf", "inference", "inferenceProviderMapping", "library_name",
          "mask_token", "model-index", "pipeline_tag", "safetensors", "spaces",
          "transformersInfo", "widgetData")  # fmt: skip
_DATASET = ("citation", "description", "downloads", "downloadsAllTime", "gated", "mainSize",
            "paperswithcode_id")  # fmt: skip
_SPACE = ("datasets", "models", "region", "runtime", "sdk", "subdomain")

EXPANDABLE: dict[RepoType, tuple[str, ...]] = {
    repo_type: tuple(sorted({*_SHARED, *extra}, key=str.lower))
    for repo_type, extra in ((RepoType.MODEL, _MODEL), (RepoType.DATASET, _DATASET),
                             (RepoType.SPACE, _SPACE))
}  # fmt: skip
_KNOWN = {repo_type: frozenset(values) for repo_type, values in EXPANDABLE.items()}


def check_expand(repo_type: RepoType, expand: list[str]) -> None:
    """Refuse the first property `repo_type` does not have, as HF words it."""
    known = _KNOWN[repo_type]
    for index, value in enumerate(expand):
        if value not in known:
            options = "|".join(f'"{name}"' for name in EXPANDABLE[repo_type])
            raise BadRequest(f"✖ Invalid option: expected one of {options}\n  → at expand[{index}]")
