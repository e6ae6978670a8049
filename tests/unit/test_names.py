"""Account and repo names are exactly the ones huggingface_hub's `validate_repo_id` accepts."""

import pytest
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from hugbox.errors import BadRequest
from hugbox.names import check_name, check_namespace

NAMES = [
    "gpt2", "__DUMMY_HUB_USER__", "_", "a", "9", "a_", "_a", "a.b", "a-b", "A_b-C.d9",
    "x" * 96, "x" * 97, "-a", "a-", ".a", "a.", "a--b", "a..b", "a.git", "a/b", "a b", "",
    "café", "a\x00", "_.", "__", "a_-_b", "model.GIT",
]  # fmt: skip


def _client_accepts(name: str) -> bool:
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return "/" not in name


def _we_accept(name: str) -> bool:
    try:
        check_name(name, what="repo")
    except BadRequest:
        return False
    return True


@pytest.mark.parametrize("name", NAMES)
def test_names_follow_validate_repo_id(name: str) -> None:
    assert _we_accept(name) == _client_accepts(name)


def test_dummy_hub_user_may_be_an_account() -> None:
    assert check_namespace("__DUMMY_HUB_USER__") == "__DUMMY_HUB_USER__"


def test_reserved_namespaces_stay_reserved() -> None:
    with pytest.raises(BadRequest, match="reserved"):
        check_namespace("api")
