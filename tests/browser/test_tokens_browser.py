"""The tokens page in Chromium: create a fine-grained token (a repo, its permissions, an
expiry), use it with huggingface_hub, see its permissions and last use, revoke it; malformed
forms get a 400 page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from playwright.sync_api import Browser, Page, expect

from conftest import ARTIFACTS
from support import create_token, run_cli, running_hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data_dir = tmp_path_factory.mktemp("tokens-browser")
    assert run_cli(data_dir, "user", "create", "alice", "--password", "pw-alice").returncode == 0
    token = create_token(data_dir, "alice", "write")
    with running_hub(data_dir) as endpoint:
        HfApi(endpoint=endpoint, token=token).create_repo("alice/secret", private=True)
        yield endpoint, token


def logged_in(browser: Browser, base: str) -> Page:
    page = browser.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{base}/login?next=/settings/tokens")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-alice")
    page.click("button:has-text('Log in')")
    expect(page.locator("h1")).to_contain_text("Access tokens")
    return page


def test_create_use_inspect_and_revoke_a_fine_grained_token(
    hub: tuple[str, str], browser: Browser
) -> None:
    base, _ = hub
    page = logged_in(browser, base)
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    page.fill("input[name=name]", "ci-reader")
    page.select_option("#token-role", "fineGrained")
    page.fill("input[name=expires]", tomorrow)
    page.select_option("select[name=entity_type_0]", "model")
    page.fill("input[name=entity_name_0]", "alice/secret")
    page.check("input[name=perm_0][value='repo.content.read']")
    page.check("input[name=global][value='discussion.write']")
    page.screenshot(path=str(ARTIFACTS / "40-token-new.png"), full_page=True)
    page.click("button:has-text('Create token')")
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("hf_")

    api = HfApi(endpoint=base, token=token)
    assert api.whoami()["auth"]["accessToken"]["role"] == "fineGrained"
    assert api.model_info("alice/secret").private
    with pytest.raises(HfHubHTTPError):
        api.create_repo("alice/not-allowed")

    row = page.locator("#tokens tr", has_text="ci-reader")
    for _ in range(50):  # the last use is written just after the response
        page.goto(f"{base}/settings/tokens")
        if "from 127.0.0.1" in row.inner_text():
            break
        page.wait_for_timeout(200)
    expect(row).to_contain_text("model alice/secret: repo.content.read")
    expect(row).to_contain_text("everywhere: discussion.write")
    expect(row).to_contain_text(tomorrow)
    expect(row).to_contain_text("from 127.0.0.1")
    page.screenshot(path=str(ARTIFACTS / "41-token-listed.png"), full_page=True)

    page.click("button[aria-label='Revoke ci-reader']")
    expect(page.locator("#tokens")).not_to_contain_text("ci-reader")
    with pytest.raises(HfHubHTTPError) as error:
        api.whoami()
    assert error.value.response.status_code == 401


@pytest.mark.parametrize(
    ("role", "entity", "expires", "message"),
    [
        ("god", "", "", "role"),
        ("fineGrained", "no-slash", "", "namespace/name"),
        ("read", "", "2001-01-01", "future"),
        ("read", "", "tomorrow", "YYYY-MM-DD"),
    ],
)
def test_malformed_token_forms_are_a_400(
    hub: tuple[str, str], browser: Browser, role: str, entity: str, expires: str, message: str
) -> None:
    base, _ = hub
    page = logged_in(browser, base)
    page.fill("input[name=name]", "bad")
    # What a hand-made request could send, past the form's own checks.
    page.evaluate(
        """([role, expires]) => {
            const select = document.querySelector('#token-role');
            select.add(new Option(role, role)); select.value = role;
            const date = document.querySelector('input[name=expires]');
            date.type = 'text'; date.value = expires;
        }""",
        [role, expires],
    )
    if entity:
        page.select_option("select[name=entity_type_0]", "model")
        page.fill("input[name=entity_name_0]", entity)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("button:has-text('Create token')")
    assert posted.value.status == 400
    expect(page.locator("main")).to_contain_text(message)
