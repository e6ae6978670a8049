"""`.gitattributes` defaults and LFS pattern matching."""

import pytest

from hugbox.repos.gitattributes import (
    default_gitattributes,
    is_lfs_path,
    lfs_patterns,
    track_line,
)

MODEL = lfs_patterns(default_gitattributes("model"))
DATASET = lfs_patterns(default_gitattributes("dataset"))


@pytest.mark.parametrize(
    "path",
    ["model.safetensors", "a/b/pytorch_model.bin", "x.pkl", "saved_model/v/w.pb", "d.tar.gz",
     "runs/events.out.tfevents.123", "x.parquet"],
)  # fmt: skip
def test_default_model_rules_track_weights(path: str) -> None:
    assert is_lfs_path(path, MODEL)


@pytest.mark.parametrize("path", ["README.md", "config.json", "a/tokenizer.json", "binx"])
def test_default_model_rules_leave_text_alone(path: str) -> None:
    assert not is_lfs_path(path, MODEL)


def test_datasets_also_track_media() -> None:
    assert is_lfs_path("images/cat.png", DATASET)
    assert not is_lfs_path("images/cat.png", MODEL)


def test_anchored_pattern_only_matches_from_root() -> None:
    patterns = lfs_patterns("/data/*.csv filter=lfs diff=lfs merge=lfs -text\n")
    assert is_lfs_path("data/a.csv", patterns)
    assert not is_lfs_path("other/data/a.csv", patterns)
    assert not is_lfs_path("data/sub/a.csv", patterns)


def test_comments_and_non_lfs_lines_are_ignored() -> None:
    text = "# *.txt filter=lfs\n*.md text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"
    assert lfs_patterns(text) == ("*.bin",)


def test_track_line_escapes_special_characters() -> None:
    line = track_line("weird name [1].dat")
    assert line.startswith(r"weird\ name\ \[1\].dat ")
    assert line.endswith("filter=lfs diff=lfs merge=lfs -text")
