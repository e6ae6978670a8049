"""The issue's flow in a real Chromium (Debian's, driven by Playwright) against a live hub:
sign up, create a model, upload it, edit its card, browse files and history, create a token,
run the inference widget, make the repo private, and see another user get a 404.

Screenshots of each page land in test-artifacts/browser/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
import torch
from playwright.sync_api import Browser, Page, expect
from transformers import GPT2Config, GPT2LMHeadModel

from hugbox.demo import minilm
from support import Hub, unique
from tiny_models import bpe_tokenizer

CHROMIUM = Path("/usr/bin/chromium")  # the `browser` fixture (conftest) launches it
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run)"),
]
TEXT = ["The knight rode to the castle.", "A story about a brave knight.", "Write a story."]
CARD = """---
license: mit
pipeline_tag: text-generation
language: en
---
# Tiny knight writer

| layers | width |
|--------|-------|
| 2      | 32    |

```python
from transformers import pipeline
```
"""


DROP_A_FILE = """() => {
  const data = new DataTransfer();
  data.items.add(new File(["# Notes\\n"], "NOTES.md", { type: "text/markdown" }));
  const zone = document.getElementById("dropzone");
  zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true }));
}"""


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("browser-gpt2")
    tokenizer = bpe_tokenizer(TEXT)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return sorted(p for p in folder.iterdir() if p.is_file())


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_the_issue_flow(hub: Hub, browser: Browser, tiny_gpt2: list[Path]) -> None:
    user, base = unique("web"), hub.endpoint
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)

    page.goto(f"{base}/join")
    page.keyboard.press("Tab")  # keyboard first: the skip link is the first stop
    expect(page.locator("a.skip")).to_be_focused()
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", "browser-password")
    shot(page, "01-sign-up")
    page.click("button:has-text('Sign up')")
    expect(page).to_have_url(f"{base}/{user}")
    shot(page, "02-profile")

    page.goto(f"{base}/new")
    page.fill("input[name=name]", "knight-writer")
    page.select_option("select[name=license]", "mit")
    shot(page, "03-new-repo")
    page.click("button:has-text('Create repository')")
    expect(page).to_have_url(f"{base}/{user}/knight-writer")

    page.click("text=Files and versions")
    page.click("text=Upload files")
    page.set_input_files("input[name=files]", [str(p) for p in tiny_gpt2])
    page.fill("input[name=message]", "Upload a tiny GPT-2")
    shot(page, "04-upload")
    page.click("button:has-text('Commit changes')")
    expect(page).to_have_url(f"{base}/{user}/knight-writer/tree/main")
    expect(page.locator("text=model.safetensors")).to_be_visible()
    expect(page.locator("span.badge", has_text="LFS")).to_be_visible()
    shot(page, "05-tree")

    page.click("text=Upload files")  # drag and drop, as a person would from their desktop
    page.evaluate(DROP_A_FILE)
    expect(page.locator("#chosen")).to_contain_text("NOTES.md")
    page.click("button:has-text('Commit changes')")
    expect(page).to_have_url(f"{base}/{user}/knight-writer/tree/main")
    expect(page.locator("text=NOTES.md")).to_be_visible()

    page.goto(f"{base}/{user}/knight-writer")
    page.click("text=Edit the card")
    page.fill("textarea[name=content]", CARD)
    page.fill("input[name=message]", "Write the card")
    page.click("button:has-text('Commit changes')")
    expect(page.locator("#card h1")).to_have_text("Tiny knight writer")
    expect(page.locator("#card td").first).to_have_text("2")
    expect(page.locator("dl.facts")).to_contain_text("text-generation")
    shot(page, "06-card")

    page.goto(f"{base}/{user}/knight-writer/blob/main/model.safetensors")
    expect(page.locator("text=parameters")).to_be_visible()
    shot(page, "07-safetensors")
    page.goto(f"{base}/{user}/knight-writer/blob/main/config.json")
    expect(page.locator("pre.hl")).to_contain_text("n_embd")
    shot(page, "08-file")
    page.goto(f"{base}/{user}/knight-writer/commits/main")
    page.click("text=Write the card")
    expect(page.locator(".diff .add").first).to_be_visible()
    shot(page, "09-commit-diff")

    page.goto(f"{base}/settings/tokens")
    page.fill("input[name=name]", "laptop")
    page.select_option("select[name=role]", "write")
    page.click("button:has-text('Create token')")
    token = page.locator("#new-token").inner_text().strip()
    shot(page, "10-token")
    whoami = httpx.get(f"{base}/api/whoami-v2", headers={"authorization": f"Bearer {token}"})
    assert whoami.json()["name"] == user

    page.goto(f"{base}/{user}/knight-writer")
    page.fill("#widget textarea[name=inputs]", "The knight")
    page.click("#widget button")
    output = page.locator("#widget .out")
    expect(output).not_to_have_text("Running…", timeout=120_000)
    assert output.inner_text().startswith("The knight")
    assert len(output.inner_text()) > len("The knight"), output.inner_text()
    shot(page, "11-widget-generation")

    page.goto(f"{base}/{user}/knight-writer/tokenizer?text=The+brave+knight")
    expect(page.locator("dl.facts")).to_contain_text("BPE")
    shot(page, "12-tokenizer")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/{user}/knight-writer")
    shot(page, "13-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.goto(f"{base}/{user}/knight-writer/settings")
    page.check("input[name=visibility][value=private]")
    page.click("button:has-text('Save')")
    shot(page, "14-settings")

    stranger = browser.new_context().new_page()
    stranger.goto(f"{base}/login")
    stranger.fill("input[name=username]", "bob")
    stranger.fill("input[name=password]", "pw-bob")
    stranger.click("button:has-text('Log in')")
    response = stranger.goto(f"{base}/{user}/knight-writer")
    assert response is not None and response.status == 404
    expect(stranger.locator("text=Repository not found")).to_be_visible()
    shot(stranger, "15-private-404")
    context.close()


def test_similarity_widget_on_the_demo_minilm(
    hub: Hub, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("browser-minilm")
    minilm.build(root / "repo", root / "work", root / "wheels")
    repo_id = f"alice/{unique('minilm')}"
    result = hub.cli("import", str(root / "repo"), repo_id)
    assert result.returncode == 0, result.stderr
    shutil.rmtree(root, ignore_errors=True)
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{hub.endpoint}/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-alice")
    page.click("button:has-text('Log in')")
    page.goto(f"{hub.endpoint}/{repo_id}")
    page.click("#widget button")
    bars = page.locator("#widget .scores li")
    expect(bars).to_have_count(3, timeout=120_000)
    first = bars.first.inner_text()
    assert first.startswith("That is a happy dog"), first
    shot(page, "16-widget-similarity")
    page.close()
