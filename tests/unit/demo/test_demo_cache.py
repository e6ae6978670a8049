"""build_once: a finished build is reused, an interrupted or outdated one is redone."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hugbox.demo.cache import MARKER, build_once, is_complete


class Recorder:
    """A builder that writes one file and counts its calls; it can be told to fail."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    def __call__(self, repo_dir: Path, work_dir: Path) -> None:
        self.calls += 1
        (work_dir / "scratch.bin").write_bytes(b"x")
        (repo_dir / "README.md").write_text("card", encoding="utf-8")
        if self.fail:
            raise RuntimeError("killed part-way")


def test_second_call_reuses_the_build(tmp_path: Path) -> None:
    builder = Recorder()
    first = build_once(tmp_path, "demo", 1, builder)
    second = build_once(tmp_path, "demo", 1, builder)
    assert first == second == tmp_path / "demo" / "repo"
    assert builder.calls == 1
    assert sorted(p.name for p in first.iterdir()) == ["README.md"]
    assert is_complete(tmp_path / "demo", 1)


def test_failed_build_leaves_nothing_and_is_redone(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="killed"):
        build_once(tmp_path, "demo", 1, Recorder(fail=True))
    assert list(tmp_path.iterdir()) == []
    builder = Recorder()
    build_once(tmp_path, "demo", 1, builder)
    assert builder.calls == 1


def test_entry_without_marker_is_rebuilt(tmp_path: Path) -> None:
    build_once(tmp_path, "demo", 1, Recorder())
    (tmp_path / "demo" / MARKER).unlink()
    builder = Recorder()
    build_once(tmp_path, "demo", 1, builder)
    assert builder.calls == 1


def test_new_recipe_version_rebuilds(tmp_path: Path) -> None:
    build_once(tmp_path, "demo", 1, Recorder())
    builder = Recorder()
    build_once(tmp_path, "demo", 2, builder)
    assert builder.calls == 1
    assert is_complete(tmp_path / "demo", 2)
    assert not is_complete(tmp_path / "demo", 1)


def test_stale_staging_folders_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / ".demo.tmp-abc"
    stale.mkdir()
    build_once(tmp_path, "demo", 1, Recorder())
    assert not stale.exists()


def test_result_is_world_readable(tmp_path: Path) -> None:
    folder = build_once(tmp_path, "demo", 1, Recorder())
    assert stat.S_IMODE((tmp_path / "demo").stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "README.md").stat().st_mode) == 0o644
