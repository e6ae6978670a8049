"""Layout that only a real browser can see: radios beside their labels, snippets that fit their
box, one "Choose files" button, and dataset cells that never split a word.

Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from playwright.sync_api import Browser, Page, expect

from support import Hub, unique

CHROMIUM = Path("/usr/bin/chromium")  # the `browser` fixture (conftest) launches it
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run)"),
]

# Words a line break may fall after and before, never inside: each word's Range has one line.
SPLIT_WORDS = """(cells) => cells.flatMap((cell) => {
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  const split = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top)));
      if (tops.size > 1) split.push(match[0]);
    }
  }
  return split;
})"""
# The label's own text, measured apart from the radio inside it.
TEXT_BOX = """(label) => {
  const text = Array.from(label.childNodes).find((n) => n.nodeType === 3 && n.data.trim());
  const range = document.createRange();
  range.selectNodeContents(text);
  const box = range.getBoundingClientRect();
  return { top: box.top, bottom: box.bottom, left: box.left };
}"""
# Inline code in a form label flows with the words around it, not on a grid row of its own.
CODE_IN_LINE = """(code) => {
  const walker = document.createTreeWalker(code.closest("label"), NodeFilter.SHOW_TEXT);
  let text = walker.nextNode();
  while (text && !text.data.trim()) text = walker.nextNode();
  const range = document.createRange();
  range.selectNodeContents(text);
  const line = range.getBoundingClientRect(), box = code.getBoundingClientRect();
  return box.top < line.bottom && box.bottom > line.top;
}"""
DRAWN = """(nodes) => nodes.filter((node) => {
  const box = node.getBoundingClientRect();
  return box.width > 4 && box.height > 4 && getComputedStyle(node).opacity !== "0";
}).length"""


@pytest.fixture(scope="module")
def page(hub: Hub, browser: Browser) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{hub.endpoint}/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-alice")
    page.click("button[type=submit]")
    expect(page.locator("header.top")).to_contain_text("Log out")
    return page


def _assert_radios_beside_labels(page: Page, shot: str) -> None:
    labels = page.locator("fieldset label:has(input[type=radio])")
    assert labels.count() == 2
    for label in labels.all():
        radio = label.locator("input[type=radio]").bounding_box()
        text = label.evaluate(TEXT_BOX)
        assert radio is not None
        assert radio["y"] < text["bottom"] and radio["y"] + radio["height"] > text["top"]
        assert radio["x"] + radio["width"] <= text["left"]
    page.screenshot(path=str(ARTIFACTS / f"layout-{shot}.png"), full_page=True)


def test_visibility_radios_sit_beside_their_labels(hub: Hub, page: Page) -> None:
    page.goto(f"{hub.endpoint}/new")
    _assert_radios_beside_labels(page, "new-repo")
    repo_id = f"alice/{unique('radios')}"
    HfApi(endpoint=hub.endpoint, token=hub.alice).create_repo(repo_id)
    page.goto(f"{hub.endpoint}/{repo_id}/settings")
    _assert_radios_beside_labels(page, "settings")
    assert page.locator("form[action$='/settings/delete'] label code").evaluate(CODE_IN_LINE)


def test_use_this_model_snippets_fit_their_box(hub: Hub, page: Page) -> None:
    repo_id = f"alice/{unique('a-model-with-a-name-long-enough-to-overflow-the-side-column')}"
    HfApi(endpoint=hub.endpoint, token=hub.alice).create_repo(repo_id)
    page.goto(f"{hub.endpoint}/{repo_id}")
    page.evaluate("document.querySelectorAll('details.snippet').forEach((d) => d.open = true)")
    boxes = page.locator("details.snippet pre")
    assert boxes.count() >= 3
    for box in boxes.all():
        hidden = box.evaluate("(pre) => pre.scrollWidth - pre.clientWidth")
        assert hidden <= 1, box.inner_text()
    section = page.locator("aside.side section", has=boxes.first).bounding_box()
    first = boxes.first.bounding_box()
    assert section and first and first["x"] + first["width"] <= section["x"] + section["width"]
    page.screenshot(path=str(ARTIFACTS / "layout-snippets.png"), full_page=True)


def test_upload_page_draws_one_choose_files_button(hub: Hub, page: Page) -> None:
    repo_id = f"alice/{unique('upload-button')}"
    HfApi(endpoint=hub.endpoint, token=hub.alice).create_repo(repo_id)
    page.goto(f"{hub.endpoint}/{repo_id}/upload/main")
    controls = page.locator("#dropzone label:has(input[type=file]), #dropzone input[type=file]")
    assert controls.evaluate_all(DRAWN) == 1
    with page.expect_file_chooser() as chooser:
        page.locator("#dropzone label").click()
    assert chooser.value.is_multiple()
    page.screenshot(path=str(ARTIFACTS / "layout-upload.png"), full_page=True)


def test_dataset_cells_never_split_a_word(
    hub: Hub, page: Page, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("wide-dataset")
    row = {f"extraordinarily_long_column_name_{i}": "Supercalifragilistic words " * 3
           for i in range(10)}  # fmt: skip
    (folder / "train.jsonl").write_text("\n".join(json.dumps(row) for _ in range(3)) + "\n")
    repo_id = f"alice/{unique('wide')}"
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    api.create_repo(repo_id, repo_type="dataset")
    api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=folder)
    page.goto(f"{hub.endpoint}/datasets/{repo_id}")
    table = page.locator("#viewer .viewer-table")
    expect(table.locator("tbody tr")).to_have_count(3, timeout=120_000)
    assert table.locator("th, td").evaluate_all(SPLIT_WORDS) == []
    assert table.evaluate("(box) => box.scrollWidth > box.clientWidth")  # it scrolls instead
    page.screenshot(path=str(ARTIFACTS / "layout-viewer.png"), full_page=True)
