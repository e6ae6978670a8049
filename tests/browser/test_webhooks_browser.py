"""The webhook settings page in Chromium: a user creates a webhook, commits, sees the delivery
(status, duration, the receiver's answer) on the webhook's page, and replays it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from huggingface_hub import HfApi
from playwright.sync_api import Browser, expect

from conftest import ARTIFACTS
from support import create_token, run_cli, running_hub, unique
from webhook_receiver import Receiver, webhook_receiver

ENV = {"HUGBOX_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]'}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as state:
        yield state


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data_dir = tmp_path_factory.mktemp("hooks-browser")
    assert run_cli(data_dir, "user", "create", "alice", "--password", "pw-alice").returncode == 0
    token = create_token(data_dir, "alice", "write")
    with running_hub(data_dir, env=ENV) as endpoint:
        yield endpoint, token


def test_create_a_webhook_see_a_delivery_and_replay_it(
    hub: tuple[str, str], browser: Browser, receiver: Receiver
) -> None:
    base, token = hub
    name, url = unique("watched"), receiver.hook_url()
    page = browser.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-alice")
    page.click("button:has-text('Log in')")
    page.click("nav >> text=Webhooks")
    expect(page.locator("main")).to_contain_text("No webhooks yet")
    page.fill("input[name=url]", url)
    page.fill("textarea[name=watched]", f"model:alice/{name}")
    page.uncheck("input[name=domain_discussion]")
    page.fill("input[name=secret]", "browser-secret")
    page.screenshot(path=str(ARTIFACTS / "30-webhook-new.png"), full_page=True)
    page.click("button:has-text('Create webhook')")
    expect(page.locator("h1")).to_contain_text("Webhook")
    hook_page = page.url

    HfApi(endpoint=base, token=token).create_repo(name)
    got = receiver.wait(url, lambda body: body["event"]["scope"] == "repo")
    assert got.headers["X-Webhook-Secret"] == "browser-secret"
    rows = page.locator("#deliveries tr.delivery")
    for _ in range(50):  # the log is written just after the POST returns
        page.goto(hook_page)
        if rows.count() and "pending" not in rows.first.inner_text():
            break
        page.wait_for_timeout(200)
    expect(rows.first.locator(".status")).to_contain_text("succeeded · HTTP 200")
    expect(rows.first).to_contain_text("thanks")
    expect(rows.first).to_contain_text(" ms")
    page.screenshot(path=str(ARTIFACTS / "31-webhook-delivery.png"), full_page=True)

    rows.first.locator("button:has-text('Replay')").click()
    receiver.wait(url, lambda body: len(receiver.at(url)) >= 2)
    for _ in range(50):
        page.goto(hook_page)
        if rows.count() >= 2 and "succeeded" in rows.first.inner_text():
            break
        page.wait_for_timeout(200)
    expect(rows.first).to_contain_text("(replay)")
    expect(rows.first.locator(".status")).to_contain_text("succeeded")
    page.screenshot(path=str(ARTIFACTS / "32-webhook-replayed.png"), full_page=True)
    page.close()
