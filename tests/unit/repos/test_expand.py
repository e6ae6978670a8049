"""`expand=` takes exactly huggingface_hub's properties per repo type, and words a refusal as HF
does (the client's tests parse the quoted list out of it)."""

from __future__ import annotations

import re
from typing import get_args

import pytest
from huggingface_hub.hf_api import (
    ExpandDatasetProperty_T,
    ExpandModelProperty_T,
    ExpandSpaceProperty_T,
)

from hugbox.errors import BadRequest
from hugbox.repos.expand import EXPANDABLE, check_expand
from hugbox.repos.models import RepoType

CLIENT = {
    RepoType.MODEL: ExpandModelProperty_T,
    RepoType.DATASET: ExpandDatasetProperty_T,
    RepoType.SPACE: ExpandSpaceProperty_T,
}


@pytest.mark.parametrize("repo_type", list(RepoType))
def test_the_lists_are_the_clients(repo_type: RepoType) -> None:
    assert set(EXPANDABLE[repo_type]) == set(get_args(CLIENT[repo_type]))
    check_expand(repo_type, list(EXPANDABLE[repo_type]))


def test_an_unknown_property_is_refused_in_hfs_words() -> None:
    with pytest.raises(BadRequest) as raised:
        check_expand(RepoType.DATASET, ["author", "gguf"])
    message = raised.value.message
    assert message.startswith('✖ Invalid option: expected one of "author"|')
    assert message.endswith("\n  → at expand[1]")
    assert set(re.findall(r'"([^"]+)"', message)) == set(get_args(ExpandDatasetProperty_T))
    with pytest.raises(BadRequest):
        check_expand(RepoType.MODEL, ["securityRepoStatus"])
