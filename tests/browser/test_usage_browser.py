"""The usage pages in a real Chromium against a live hub: the storage page with its largest
repos, the site admins' usage view, a repo page's downloads chart; another user is refused the
admin view. Screenshots land in test-artifacts/browser/."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download
from playwright.sync_api import Browser, Page, expect

from support import Hub, unique

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run)"),
]


def log_in(browser: Browser, hub: Hub, user: str, password: str) -> Page:
    page = browser.new_context().new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{hub.endpoint}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator("header.top")).to_contain_text("Log out")
    return page


def wait_for(check: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_storage_admin_and_chart_pages(hub: Hub, browser: Browser) -> None:
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = api.create_repo(f"alice/{unique('storage-page')}", private=True).repo_id
    api.upload_file(
        path_or_fileobj=os.urandom(150_000), path_in_repo="weights.bin", repo_id=repo_id
    )
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=repo_id)
    hf_hub_download(repo_id, "config.json", token=hub.alice)
    wait_for(lambda: (api.model_info(repo_id, expand=["usedStorage"]).used_storage or 0) > 150_000)
    wait_for(lambda: (api.model_info(repo_id, expand=["downloads"]).downloads or 0) == 1)

    page = log_in(browser, hub, "alice", "pw-alice")
    page.goto(f"{hub.endpoint}/settings/storage")
    row = page.locator("#largest-repos tr", has_text=repo_id)
    expect(row).to_contain_text("weights.bin")
    expect(page.locator("main")).to_contain_text("permanently_delete_lfs_files")
    page.screenshot(path=str(ARTIFACTS / "usage-storage.png"), full_page=True)

    page.goto(f"{hub.endpoint}/{repo_id}")
    chart = page.locator("#downloads-chart")
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute(
        "aria-label", "1 downloads in the last 30 days, at most 1 a day"
    )
    page.screenshot(path=str(ARTIFACTS / "usage-chart.png"), full_page=True)

    page.goto(f"{hub.endpoint}/admin/usage")
    expect(page.locator("main")).to_contain_text("Only site admins")
    admin = unique("root")
    assert hub.cli("user", "create", admin, "--password", "pw-root", "--admin").returncode == 0
    page = log_in(browser, hub, admin, "pw-root")
    page.goto(f"{hub.endpoint}/admin/usage")
    expect(page.locator("#top-repo-storage")).to_contain_text(repo_id)
    expect(page.locator("#top-user-storage")).to_contain_text("alice")
    page.screenshot(path=str(ARTIFACTS / "usage-admin.png"), full_page=True)
    assert httpx.get(f"{hub.endpoint}/admin/usage").status_code == 401
