"""A repo holding a malicious pickle, seen in Chromium: the banner on its page, the badge in its
file list and the pickle's imports on the file's page."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from playwright.sync_api import Browser, expect

from support import Hub, unique

CHROMIUM = Path("/usr/bin/chromium")  # the `browser` fixture (conftest) launches it
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run)"),
]


class RunsAShell:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo owned",))


def test_unsafe_pickle_shows_banner_badge_and_imports(hub: Hub, browser: Browser) -> None:
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = api.create_repo(f"alice/{unique('scanned')}").repo_id
    api.upload_file(path_or_fileobj=pickle.dumps(RunsAShell()), path_in_repo="pytorch_model.bin",
                    repo_id=repo_id)  # fmt: skip
    deadline = time.monotonic() + 30
    while not api.model_info(repo_id, securityStatus=True).security_repo_status["scansDone"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    page = browser.new_page()
    page.goto(f"{hub.endpoint}/{repo_id}")
    banner = page.locator("#security-banner")
    expect(banner).to_contain_text("found unsafe")
    expect(banner).to_contain_text("pytorch_model.bin")
    page.screenshot(path=str(ARTIFACTS / "scan-banner.png"))
    page.goto(f"{hub.endpoint}/{repo_id}/tree/main")
    expect(page.locator(".badge.scan-unsafe")).to_have_text("unsafe")
    page.locator("a", has_text="pytorch_model.bin").click()
    expect(page.locator("#pickle-imports-title")).to_have_text("Detected Pickle imports (1)")
    expect(page.locator(".import-dangerous")).to_contain_text("posix.system")
    page.screenshot(path=str(ARTIFACTS / "scan-imports.png"))
    page.close()
