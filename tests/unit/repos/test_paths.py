"""Paths inside a repo can never escape it or touch git's files."""

import pytest

from hugbox.errors import UnprocessableEntity
from hugbox.repos.paths import check_path_in_repo


@pytest.mark.parametrize("path", ["a.txt", "a/b/c.bin", ".gitattributes", "dir/.gitignore"])
def test_ordinary_paths_pass(path: str) -> None:
    assert check_path_in_repo(path) == path


@pytest.mark.parametrize(
    "path",
    ["", "/etc/passwd", "../x", "a/../../x", "..\\ddd", "a//b", "./a", ".git/config",
     "sub/.git/hooks/x", "a/", "nul\x00byte", "x" * 5000],
)  # fmt: skip
def test_unsafe_paths_are_422(path: str) -> None:
    with pytest.raises(UnprocessableEntity):
        check_path_in_repo(path)
