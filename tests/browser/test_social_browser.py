"""Likes and collections in a real Chromium against a live hub: bob likes alice's model from
its page (the heart and the count change), then builds a collection through the pages: creates
it, adds the model and a paper with notes, reorders and annotates them, renames it, and
removes an item; the API sees each change."""

from __future__ import annotations

from pathlib import Path

import httpx
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


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"social-{name}.png"), full_page=True)


def log_in(page: Page, base: str, user: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", f"pw-{user}")
    page.click("button:has-text('Log in')")


def test_like_a_repo_and_build_a_collection(hub: Hub, browser: Browser) -> None:
    base = hub.endpoint
    model = HfApi(endpoint=base, token=hub.alice).create_repo(f"alice/{unique('hearted')}").repo_id
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    log_in(page, base, "bob")

    page.goto(f"{base}/{model}")
    heart = page.locator("form.like button")
    expect(heart).to_have_attribute("aria-pressed", "false")
    heart.click()
    expect(page.locator("form.like button")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("form.like .like-count")).to_have_text("1")
    shot(page, "1-liked")
    assert HfApi(endpoint=base).model_info(model).likes == 1
    assert model in HfApi(endpoint=base).list_liked_repos("bob").models

    page.goto(f"{base}/bob")
    page.click("a:has-text('Collections')")
    page.fill("input[name=title]", "Bob's picks")
    page.fill("input[name=description]", "Models worth a look")
    page.click("button:has-text('Create collection')")
    expect(page.locator("h1")).to_contain_text("Bob's picks")
    for kind, item_id, note in (("model", model, "Liked it"), ("paper", "2307.09288", "")):
        page.select_option("select[name=type]", kind)
        page.fill("input[name=id]", item_id)
        page.fill("#add-item ~ form input[name=note]", note)
        page.click("button:has-text('Add')")
    items = page.locator("ol.cards > li")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("Liked it")
    shot(page, "2-collection")

    items.nth(1).locator("summary").click()
    items.nth(1).locator("textarea[name=note]").fill("Llama 2")
    items.nth(1).locator("button[value=note]").click()
    page.locator("ol.cards > li").nth(1).locator("summary").click()
    page.locator("ol.cards > li").nth(1).locator("button[value=up]").click()
    expect(page.locator("ol.cards > li").first).to_have_attribute("data-type", "paper")
    expect(page.locator("ol.cards > li").first).to_contain_text("Llama 2")

    page.fill("#settings ~ form input[name=title]", "Bob's favourites")
    page.select_option("select[name=theme]", "indigo")
    page.click("#settings ~ form button:has-text('Save')")
    expect(page.locator("h1")).to_contain_text("Bob's favourites")
    slug = page.url.split("/collections/", 1)[1]
    shot(page, "3-renamed")

    collection = HfApi(endpoint=base).get_collection(slug)
    assert (collection.title, collection.theme) == ("Bob's favourites", "indigo")
    assert [(i.item_type, i.item_id, i.note) for i in collection.items] == [
        ("paper", "2307.09288", "Llama 2"), ("model", model, "Liked it"),
    ]  # fmt: skip

    page.locator("ol.cards > li").first.locator("summary").click()
    page.locator("ol.cards > li").first.locator("button[value=remove]").click()
    expect(page.locator("ol.cards > li")).to_have_count(1)
    assert [i.item_id for i in HfApi(endpoint=base).get_collection(slug).items] == [model]

    page.goto(f"{base}/{model}")
    page.locator("form.like button").click()
    expect(page.locator("form.like .like-count")).to_have_text("0")
    assert httpx.get(f"{base}/api/models/{model}").json()["likes"] == 0
    context.close()
