"""The plans file: the shipped one mirrors HF's tiers; a wrong one is refused with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from hugbox.plans.config import PlansFileError, load_catalog


def test_the_shipped_plans_are_hfs_tiers() -> None:
    catalog = load_catalog(None)
    assert list(catalog.plans) == ["anonymous", "free", "pro", "team", "enterprise"]
    assert catalog.window == 300
    free, pro = catalog.plans["free"], catalog.plans["pro"]
    assert (free.api, free.resolvers, free.pages) == (1000, 5000, 200)
    assert (pro.api, pro.resolvers, pro.pages, pro.tier) == (2500, 12000, 400, "pro")
    assert catalog.anonymous.api == 500 and catalog.default_user is free
    assert free.private_storage == 100_000_000_000 and free.public_storage is None
    assert catalog.plans["enterprise"].inference_requests is None  # no daily cap
    assert [p.rank for p in catalog.plans.values()] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("window = 0\n[plans.anonymous]\napi=1\nresolvers=1\npages=1\n", "window"),
        ("[plans.anonymous]\napi=1\nresolvers=1\n", "pages must be"),
        ("[plans.anonymous]\napi=-1\nresolvers=1\npages=1\n", "api must be"),
        ("[plans.anonymous]\napi=1\nresolvers=1\npages=1\nspeed=3\n", "unknown keys"),
        ("[plans.anonymous]\napi=1\nresolvers=1\npages=1\ntier='gold'\n", "tier"),
        ("[plans.anonymous]\napi=1\nresolvers=1\npages=1\nprivate_storage='lots'\n", "storage"),
        ("[plans.anonymous]\napi=1\nresolvers=1\npages=1\n", "default_user names 'free'"),
        ("[plans.anonymous\n", "Expected"),
    ],
)
def test_a_wrong_plans_file_says_what_is_wrong(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "plans.toml"
    path.write_text(text)
    with pytest.raises(PlansFileError, match=reason):
        load_catalog(path)


def test_a_missing_plans_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlansFileError, match=r"plans\.toml"):
        load_catalog(tmp_path / "plans.toml")
