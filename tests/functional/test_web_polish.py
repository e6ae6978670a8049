"""What a new user's first look at the pages showed: tabs, snippets, pagers and profiles that
promise only what is there."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from webpages import api_commit, api_create, join, login, post_form

from tiny_models import bpe_tokenizer

CONFIG = b'{"model_type": "gpt2"}'
TOKENIZER_TAB = re.compile(r'<a href="[^"]*/tokenizer"[^>]*>Tokenizer</a>')


def test_tokenizer_tab_only_where_a_tokenizer_is(
    client: TestClient, token: str, tmp_path: Path
) -> None:
    bpe_tokenizer(["hello world", "hello there"]).save_pretrained(tmp_path)
    api_create(client, token, "with-tok")
    tokenizer_config = (tmp_path / "tokenizer_config.json").read_bytes()
    files = {"config.json": CONFIG, "tokenizer_config.json": tokenizer_config}
    api_commit(client, token, "alice/with-tok", files)
    api_create(client, token, "no-tok")
    api_commit(client, token, "alice/no-tok", {"config.json": CONFIG})
    for page in ("", "/tree/main", "/commits/main"):
        assert TOKENIZER_TAB.search(client.get(f"/alice/with-tok{page}").text), page
        assert not TOKENIZER_TAB.search(client.get(f"/alice/no-tok{page}").text), page


def test_a_model_without_a_task_gets_no_guessed_pipeline(client: TestClient, token: str) -> None:
    api_create(client, token, "untasked")
    api_commit(client, token, "alice/untasked", {"config.json": CONFIG})
    html = client.get("/alice/untasked").text
    assert "pipeline(" not in html and "text-generation" not in html
    assert "AutoModel.from_pretrained(&#34;alice/untasked&#34;)" in html
    card = b"---\npipeline_tag: fill-mask\n---\n"
    api_commit(client, token, "alice/untasked", {"README.md": card})
    assert "pipeline(&#34;fill-mask&#34;" in client.get("/alice/untasked").text


def test_one_page_of_results_has_no_pager(client: TestClient, token: str) -> None:
    api_create(client, token, "lonely")
    listing = client.get("/models").text
    assert "alice/lonely" in listing
    assert 'class="pager"' not in listing and "Page 1" not in listing
    assert 'class="pager"' not in client.get("/alice/lonely/commits/main").text


def test_a_profile_lists_the_users_organizations(client: TestClient) -> None:
    login(client, "alice", "pw")
    for name, fullname in (("guild", "The Guild"), ("labs", "")):
        assert post_form(client, "/organizations/new", name=name, fullname=fullname).is_redirect
    profile = client.get("/alice").text
    assert re.search(r'<a class="tag" href="/guild">The Guild</a>.*<a class="tag" href="/labs">labs'
                     r"</a>", profile, re.S)  # fmt: skip
    assert "Organizations" not in client.get("/guild").text


SETTINGS_TAB = re.compile(r'<a href="[^"]*/settings"[^>]*>Settings</a>')


def test_the_settings_tab_only_for_who_may_change_the_repo(client: TestClient, token: str) -> None:
    api_create(client, token, "shared")
    assert not SETTINGS_TAB.search(client.get("/alice/shared").text)  # anonymous
    join(client, "bob", "bob-password")
    for page in ("", "/tree/main", "/commits/main"):
        assert not SETTINGS_TAB.search(client.get(f"/alice/shared{page}").text), page
    assert client.get("/alice/shared/settings").status_code == 403
    client.cookies.clear()
    login(client, "alice", "pw")
    for page in ("", "/tree/main", "/commits/main", "/settings"):
        assert SETTINGS_TAB.search(client.get(f"/alice/shared{page}").text), page
