"""The plan pages in a real Chromium: a site admin sees every plan and assigns one with the
form; a user sees their plan and usage. Screenshots land in test-artifacts/browser/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from support import Hub, unique

CHROMIUM = Path("/usr/bin/chromium")  # the `browser` fixture (conftest) launches it
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run)"),
]


def _log_in(hub: Hub, browser: Browser, user: str, password: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{hub.endpoint}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator("header.top")).to_contain_text("Log out")
    return page


def test_an_admin_assigns_a_plan_and_a_user_sees_it(hub: Hub, browser: Browser) -> None:
    admin, member = unique("root"), unique("member")
    for name, flags in ((admin, ["--admin"]), (member, [])):
        created = hub.cli("user", "create", name, "--password", f"pw-{name}", *flags)
        assert created.returncode == 0, created.stderr
    page = _log_in(hub, browser, admin, f"pw-{admin}")
    page.goto(f"{hub.endpoint}/admin/plans")
    expect(page.locator("h1")).to_have_text("Plans")
    expect(page.locator("#plans tbody tr")).to_have_count(5)  # the shipped plans: HF's tiers
    expect(page.locator("#plans")).to_contain_text("12000")  # PRO's resolver quota
    page.fill("input[name=account]", member)
    page.select_option("select[name=plan]", "pro")
    page.click("form[action='/admin/plans'] button[type=submit]")
    expect(page.locator(".flash")).to_contain_text(f"Plan assigned to {member}")
    row = page.locator("#accounts tr", has_text=member)
    expect(row).to_contain_text("pro")
    expect(row).not_to_contain_text("(default)")
    page.screenshot(path=str(ARTIFACTS / "plans-admin.png"), full_page=True)

    user_page = _log_in(hub, browser, member, f"pw-{member}")
    user_page.goto(f"{hub.endpoint}/admin/plans")
    expect(user_page.locator("main")).to_contain_text("Only site administrators")
    user_page.goto(f"{hub.endpoint}/settings/usage")
    expect(user_page.locator("#plan")).to_have_text("pro")
    expect(user_page.locator("#requests tbody tr")).to_have_count(3)
    expect(user_page.locator("#inference")).to_contain_text("20000")
    user_page.screenshot(path=str(ARTIFACTS / "plans-usage.png"), full_page=True)
