"""A gated model in a real Chromium: a user fills the card's form, is refused a download, the
owner accepts on the review page, the user is told and then downloads with `hf_hub_download`.

Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError
from playwright.sync_api import Browser, BrowserContext, Page, expect

from support import Hub, unique

CHROMIUM = Path("/usr/bin/chromium")  # the `browser` fixture (conftest) launches it
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run)"),
]
CARD = """---
license: other
extra_gated_heading: Share your details to get the weights
extra_gated_prompt: The weights are for research only.
extra_gated_fields:
  Company: text
  Country: country
  Start date: date_picker
  Use:
    type: select
    options:
      - Research
      - label: Something else
        value: other
  I agree to the terms: checkbox
extra_gated_button_content: Ask for the weights
---
# A gated model
"""


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(browser: Browser, hub: Hub, user: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{hub.endpoint}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", f"pw-{user}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{hub.endpoint}/")
    return context, page


def gated_model(hub: Hub) -> str:
    owner = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = owner.create_repo(f"alice/{unique('gated-web')}").repo_id
    owner.upload_file(path_or_fileobj=CARD.encode(), path_in_repo="README.md", repo_id=repo_id)
    owner.upload_file(path_or_fileobj=b"weights", path_in_repo="w.bin", repo_id=repo_id)
    owner.update_repo_settings(repo_id, gated="manual")
    return repo_id


def fill_the_form(page: Page) -> None:
    expect(page.locator("#gate h2")).to_have_text("Share your details to get the weights")
    expect(page.locator("#gate")).to_contain_text("The weights are for research only.")
    page.click("#gate button[type=submit]")  # the browser checks required fields first
    expect(page).to_have_url(page.url)
    page.fill("input[name=Company]", "Acme Labs")
    page.select_option("select[name=Country]", "France")
    page.fill("input[name='Start date']", "2026-12-01")
    page.select_option("select[name=Use]", "other")
    page.check("input[name='I agree to the terms']")
    shot(page, "gated-form")
    page.click("#gate button[type=submit]")


def test_a_gated_model_from_request_to_download(hub: Hub, browser: Browser, tmp_path: Path) -> None:
    repo_id, base = gated_model(hub), hub.endpoint
    bob, bob_page = log_in(browser, hub, "bob")
    bob_page.goto(f"{base}/{repo_id}")
    fill_the_form(bob_page)
    expect(bob_page.locator("#gate")).to_contain_text("awaiting a review from the repo authors")
    shot(bob_page, "gated-pending")
    with pytest.raises(GatedRepoError, match="awaiting a review"):
        hf_hub_download(repo_id, "w.bin", cache_dir=tmp_path, token=hub.bob)

    alice, page = log_in(browser, hub, "alice")
    expect(page.locator(".notifications-link .badge")).to_be_visible()
    page.goto(f"{base}/{repo_id}/settings")
    page.click("text=Review access requests")
    row = page.locator("tr[data-user=bob]")
    expect(row).to_contain_text("Acme Labs")
    expect(row).to_contain_text("France")
    shot(page, "gated-review")
    row.locator("button", has_text="Accept").click()
    expect(page.locator("tr[data-user=bob]")).to_have_count(0)
    page.click("text=Accepted")
    expect(page.locator("tr[data-user=bob]")).to_be_visible()

    bob_page.goto(f"{base}/")
    expect(bob_page.locator(".notifications-link .badge")).to_have_text("1")
    bob_page.click(".notifications-link")
    expect(bob_page.locator(".notifications")).to_contain_text(
        f"Your request to access model {repo_id} was accepted"
    )
    shot(bob_page, "gated-notified")
    path = hf_hub_download(repo_id, "w.bin", cache_dir=tmp_path, token=hub.bob)
    assert Path(path).read_bytes() == b"weights"
    bob_page.goto(f"{base}/{repo_id}")
    expect(bob_page.locator("#gate")).to_have_count(0)
    alice.close()
    bob.close()
