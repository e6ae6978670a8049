"""Spaces in a real Chromium: a Gradio app used from its space page (the iframe, the queue and
its event stream through the proxy), a Streamlit app (its websocket through the proxy), and the
live status and logs of the page. Screenshots land in test-artifacts/browser/."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from playwright.sync_api import Browser, Page, expect

from support import Hub, unique

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run)"),
]
GRADIO = b"""import gradio as gr

def shout(text):
    return text.upper() + "!"

gr.Interface(shout, gr.Textbox(label="Words"), gr.Textbox(label="Shouted"),
             api_name="shout").launch()
"""
STREAMLIT = b"""import streamlit as st

st.title("Counter in the browser")
count = st.number_input("How many?", value=2)
st.write(f"Twice that is {count * 2}")
"""


def _running(api: HfApi, repo_id: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while (stage := api.get_space_runtime(repo_id).stage) != "RUNNING":
        assert not str(stage).endswith("ERROR"), "".join(api.fetch_space_logs(repo_id))[-2000:]
        assert time.monotonic() < deadline, f"still {stage}"
        time.sleep(0.5)


def _space(api: HfApi, sdk: str, app: bytes) -> str:
    repo_id = f"alice/{unique(sdk)}"
    api.create_repo(repo_id, repo_type="space", space_sdk=sdk)
    readme = f"---\ntitle: {sdk} in a browser\nsdk: {sdk}\n---\n".encode()
    api.create_commit(repo_id, repo_type="space", commit_message="app", operations=[
        CommitOperationAdd("README.md", readme), CommitOperationAdd("app.py", app)])  # fmt: skip
    _running(api, repo_id)
    return repo_id


def _login(page: Page, hub: Hub) -> None:
    page.goto(f"{hub.endpoint}/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-alice")
    page.click("button[type=submit]")


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_gradio_space_page_runs_the_app(hub: Hub, browser: Browser) -> None:
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = _space(api, "gradio", GRADIO)
    page = browser.new_context().new_page()
    page.set_default_timeout(60_000)
    _login(page, hub)
    page.goto(f"{hub.endpoint}/spaces/{repo_id}")
    expect(page.get_by_text("RUNNING").first).to_be_visible()
    app = page.frame_locator("iframe")
    app.get_by_label("Words").fill("hello spaces")
    app.get_by_role("button", name="Submit").click()
    expect(app.get_by_label("Shouted")).to_have_value("HELLO SPACES!")
    shot(page, "20-gradio-space")


def test_streamlit_space_talks_over_its_websocket(hub: Hub, browser: Browser) -> None:
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    repo_id = _space(api, "streamlit", STREAMLIT)
    host = api.space_info(repo_id).host
    assert host is not None
    page = browser.new_context().new_page()
    page.set_default_timeout(60_000)
    page.goto(host)  # the app itself, on the spaces origin
    expect(page.get_by_text("Counter in the browser")).to_be_visible()
    expect(page.get_by_text("Twice that is 4")).to_be_visible()
    number = page.get_by_label("How many?")
    number.fill("21")
    number.press("Enter")
    expect(page.get_by_text("Twice that is 42")).to_be_visible()  # a rerun over the websocket
    shot(page, "21-streamlit-space")
