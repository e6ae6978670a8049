"""A pull request made and merged in a real Chromium: bob, who may only read alice's model,
edits its card in the browser, which opens a pull request; carol comments on it; alice, the
owner, finds it in the Community tab and merges it; main then has bob's card.

Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi
from playwright.sync_api import Browser, Page, expect

from support import Hub, unique

CHROMIUM = Path("/usr/bin/chromium")
OLD_CARD = b"---\nlicense: mit\n---\n# Old card\n"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run)"),
]


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def logged_in(browser: Browser, hub: Hub, user: str) -> Page:
    page = browser.new_context().new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{hub.endpoint}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", f"pw-{user}")
    page.click("button:has-text('Log in')")
    expect(page).not_to_have_url(f"{hub.endpoint}/login")
    return page


def test_a_pull_request_opened_commented_and_merged(hub: Hub, browser: Browser) -> None:
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = api.create_repo(f"alice/{unique('pr-web')}").repo_id
    api.upload_file(path_or_fileobj=OLD_CARD, path_in_repo="README.md", repo_id=repo_id)
    base = f"{hub.endpoint}/{repo_id}"

    bob = logged_in(browser, hub, "bob")
    bob.goto(f"{base}/blob/main/README.md")
    bob.click("a:has-text('edit')")
    expect(bob.locator("#submit-edit")).to_have_text("Open a pull request")
    bob.fill("textarea[name=content]", "# New card\n\nWritten by **bob**.\n")
    bob.fill("input[name=message]", "A better card")
    bob.fill("textarea[name=description]", "Please have a look")
    shot(bob, "pr-01-edit")
    bob.click("#submit-edit")
    expect(bob).to_have_url(f"{base}/discussions/1")
    expect(bob.locator("#discussion-title")).to_contain_text("A better card")
    expect(bob.locator("#files-changed")).to_contain_text("+# New card")
    expect(bob.locator("#merge")).to_have_count(0)  # bob may not merge
    shot(bob, "pr-02-opened")

    carol = logged_in(browser, hub, "carol")
    carol.goto(f"{base}/discussions/1")
    carol.fill("#comment-form textarea[name=comment]", "Looks **great** to me")
    carol.click("#comment-form button")
    expect(carol.locator(".comment-body strong", has_text="great")).to_be_visible()

    alice = logged_in(browser, hub, "alice")
    alice.goto(base)
    alice.click("nav.tabs >> text=Community")
    alice.click("#discussions >> text=A better card")
    expect(alice.locator(".event-commit")).to_contain_text("A better card")
    shot(alice, "pr-03-review")
    alice.click("#merge")
    expect(alice.locator("#discussion-status")).to_have_text("merged")
    shot(alice, "pr-04-merged")
    card = httpx.get(f"{base}/resolve/main/README.md")
    assert card.text == "# New card\n\nWritten by **bob**.\n"
    assert api.list_repo_commits(repo_id)[0].title == "A better card (#1)"
    for page in (bob, carol, alice):
        page.context.close()
