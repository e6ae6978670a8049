"""Single sign-on in a real Chromium against a real OpenID Connect provider (oidc-provider): an
org admin fills the SSO settings page, a new member signs in from the login page through the
provider's form and comes back signed in with the role their `groups` claim maps to, and with
"require SSO" on, a member's password session is refused the org's private repo until they sign
in through the org's SSO.

Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from playwright.sync_api import Browser, BrowserContext, Page, expect

from oidc_idp import Idp, client, running_idp
from support import Hub, unique

CHROMIUM = Path("/usr/bin/chromium")  # the `browser` fixture (conftest) launches it
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
SECRET = "browser-client-secret"
USERS = {
    "sub-frank": {"preferred_username": "frank", "email": "frank@example.com", "groups": ["eng"]},
    "sub-bob": {"preferred_username": "bob", "email": "bob@example.com", "groups": []},
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run)"),
]


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def org(hub: Hub) -> str:
    name = unique("ssob")
    assert hub.cli("org", "create", name, "--owner", "alice").returncode == 0
    assert hub.cli("org", "add-member", name, "bob", "--role", "read").returncode == 0
    return name


@pytest.fixture(scope="module")
def idp(hub: Hub, org: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Idp]:
    redirect = f"{hub.endpoint}/organizations/{org}/sso/callback"
    with running_idp(tmp_path_factory.mktemp("idp"), [client("hub", SECRET, redirect)]) as idp:
        idp.set_users(USERS)
        yield idp


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


def through_provider(page: Page, hub: Hub, sub: str) -> None:
    """The provider's form: pick the user, sign in; back on the hub."""
    page.wait_for_selector("#idp-sign-in")
    page.select_option("select[name=sub]", sub)
    page.click("#idp-sign-in")
    page.wait_for_url(f"{hub.endpoint}/**")


def configure(browser: Browser, hub: Hub, idp: Idp, org: str, *, require: bool) -> None:
    context, page = log_in(browser, hub, "alice")
    page.goto(f"{hub.endpoint}/organizations/{org}/settings/sso")
    page.fill("input[name=issuer]", idp.issuer)
    page.fill("input[name=client_id]", "hub")
    if page.get_attribute("input[name=client_secret]", "required") is not None:
        page.fill("input[name=client_secret]", SECRET)
    page.fill("textarea[name=role_mapping]", "eng = write\nadmins = admin\n")
    page.select_option("select[name=default_role]", "read")
    page.set_checked("input[name=require_sso]", require)
    page.click("#sso-settings button[type=submit]")
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.locator("input[name=client_secret]")).to_have_value("")  # never shown back
    shot(page, f"sso-settings-require-{require}")
    context.close()


def test_a_new_member_signs_in_from_the_login_page(
    browser: Browser, hub: Hub, idp: Idp, org: str
) -> None:
    configure(browser, hub, idp, org, require=False)
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{hub.endpoint}/login")
    shot(page, "sso-login-page")
    page.get_by_role("link", name=f"Sign in with {org} SSO").click()
    through_provider(page, hub, "sub-frank")
    page.goto(f"{hub.endpoint}/organizations/{org}/members")
    row = page.locator("tr", has_text="frank")
    expect(row).to_contain_text("write")
    shot(page, "sso-member-after-sign-in")
    context.close()


def test_require_sso_refuses_a_password_session_until_sso(
    browser: Browser, hub: Hub, idp: Idp, org: str
) -> None:
    repo_id = f"{org}/{unique('private')}"
    HfApi(endpoint=hub.endpoint, token=hub.alice).create_repo(repo_id, private=True)
    configure(browser, hub, idp, org, require=True)
    context, page = log_in(browser, hub, "bob")
    refused = page.goto(f"{hub.endpoint}/{repo_id}")
    assert refused is not None and refused.status == 403
    expect(page.get_by_role("alert")).to_contain_text(f"sign in with {org} SSO")
    shot(page, "sso-required-refused")
    page.goto(f"{hub.endpoint}/organizations/{org}/sso?next=/{repo_id}")
    page.click("#sso-sign-in")
    through_provider(page, hub, "sub-bob")
    page.wait_for_url(f"{hub.endpoint}/{repo_id}")
    expect(page.locator("h1")).to_contain_text(repo_id.split("/")[1])
    shot(page, "sso-required-allowed")
    context.close()
