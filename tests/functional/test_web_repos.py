"""Repo pages: explore, the repo page and its card, create, settings, and who sees what."""

from __future__ import annotations

from fastapi.testclient import TestClient
from webpages import api_commit, api_create, join, login, post_form

CARD = b"""---
license: mit
language: [en, fr]
pipeline_tag: text-classification
datasets: [acme/reviews]
tags: [sentiment]
---
# Sentiment model

| metric | value |
|--------|-------|
| accuracy | 0.91 |

```python
from transformers import pipeline
```

<script>alert(1)</script><a href="javascript:alert(2)">x</a><img src=x onerror="alert(3)">
"""


def test_repo_page_renders_the_card_safely(client: TestClient, token: str) -> None:
    api_create(client, token, "sentiment")
    api_commit(client, token, "alice/sentiment", {"README.md": CARD})
    page = client.get("/alice/sentiment")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Sentiment model</h1>" in html
    assert "<td>0.91</td>" in html  # tables
    assert '<span class="kn">from</span>' in html  # highlighted code
    assert "license:mit" in html and "sentiment" in html  # YAML as tags
    assert "<dt>License</dt><dd>mit</dd>" in html and "en, fr" in html  # side panel
    assert "<script>alert" not in html and "javascript:" not in html and "onerror" not in html
    assert "pipeline(&#34;text-classification&#34;" in html  # use-this-model snippet
    assert "git clone http://testserver/alice/sentiment" in html
    assert 'data-task="text-classification"' in html  # the inference widget


def test_explore_searches_filters_sorts_and_pages(client: TestClient, token: str) -> None:
    for index in range(32):
        api_create(client, token, f"model-{index:02d}")
    api_commit(client, token, "alice/model-07", {"README.md": CARD})
    listing = client.get("/models")
    assert listing.status_code == 200
    assert listing.text.count('class="name"') == 30 and 'rel="next"' in listing.text
    second = client.get("/models?p=1")
    assert second.text.count('class="name"') == 2 and 'rel="prev"' in second.text
    found = client.get("/models?search=model-1&sort=updated").text
    assert "alice/model-15" in found and "alice/model-07" not in found
    assert "alice/model-07" in client.get("/models?task=text-classification").text
    assert "alice/model-03" not in client.get("/models?license=mit").text
    assert "alice/model-07" in client.get("/models?license=mit&tags=sentiment").text
    assert "alice/model-07" in client.get("/models?author=alice&sort=likes").text
    assert "Nothing here yet" in client.get("/datasets").text


def test_private_repos_are_a_404_page_for_others(client: TestClient, token: str) -> None:
    api_create(client, token, "secret", private=True)
    api_commit(client, token, "alice/secret", {"notes.txt": b"hidden\n"})
    for path in ("/alice/secret", "/alice/secret/tree/main", "/alice/secret/blob/main/notes.txt",
                 "/alice/secret/commits/main", "/alice/secret/settings"):  # fmt: skip
        anonymous = client.get(path)
        assert anonymous.status_code == 404, path
        assert "Repository not found" in anonymous.text and "log in" in anonymous.text
    assert "alice/secret" not in client.get("/models").text
    assert "alice/secret" not in client.get("/alice").text
    other = TestClient(client.app)
    join(other, "mallory", "mallory-pw")
    assert other.get("/alice/secret").status_code == 404
    login(client, "alice", "pw")
    assert client.get("/alice/secret").status_code == 200
    assert "alice/secret" in client.get("/alice").text


def test_create_a_repo_in_the_browser(client: TestClient) -> None:
    login(client, "alice", "pw")
    assert client.get("/new").status_code == 200
    response = post_form(client, "/new", type="model", owner="alice", name="fresh",
                         license="apache-2.0", visibility="private")  # fmt: skip
    assert response.headers["location"] == "/alice/fresh"
    page = client.get("/alice/fresh").text
    assert "private" in page and "license:apache-2.0" in page
    dataset = post_form(client, "/new", type="dataset", owner="alice", name="data", license="")
    assert dataset.headers["location"] == "/datasets/alice/data"
    assert "Dataset card" in client.get("/datasets/alice/data").text
    taken = post_form(client, "/new", type="model", owner="alice", name="fresh", license="")
    assert taken.status_code == 409 and "already created" in taken.text


def test_new_repo_page_sends_visitors_to_log_in(client: TestClient) -> None:
    response = client.get("/new", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_repo_settings_visibility_move_and_delete(client: TestClient, token: str) -> None:
    api_create(client, token, "tune")
    login(client, "alice", "pw")
    assert client.get("/alice/tune/settings").status_code == 200
    post_form(client, "/alice/tune/settings", visibility="private", gated="manual")
    anonymous = TestClient(client.app)
    assert anonymous.get("/alice/tune").status_code == 404
    info = client.get("/api/models/alice/tune", headers={"authorization": f"Bearer {token}"})
    assert info.json()["private"] is True and info.json()["gated"] == "manual"
    moved = post_form(client, "/alice/tune/settings/move", to="alice/tuned")
    assert moved.headers["location"] == "/alice/tuned"
    assert client.get("/alice/tune", follow_redirects=False).status_code == 307
    refused = post_form(client, "/alice/tuned/settings/delete", confirm="wrong")
    assert refused.status_code == 400
    deleted = post_form(client, "/alice/tuned/settings/delete", confirm="alice/tuned")
    assert deleted.headers["location"] == "/alice"
    assert client.get("/alice/tuned").status_code == 404


def test_settings_need_write_access(client: TestClient, token: str) -> None:
    api_create(client, token, "guarded")
    other = TestClient(client.app)
    join(other, "oscar", "oscar-password")
    assert other.get("/alice/guarded/settings").status_code == 403
    assert post_form(other, "/alice/guarded/settings", visibility="private").status_code == 403


def test_unknown_pages_are_html_404_for_browsers_and_json_for_clients(client: TestClient) -> None:
    page = client.get("/nobody/nothing/tree/main", headers={"accept": "text/html"})
    assert page.status_code == 404 and "Home page" in page.text
    came_from = {"accept": "text/html", "referer": "http://testserver/models"}
    back = client.get("/nobody/nothing/tree/main", headers=came_from).text
    assert '<a href="http://testserver/models">← Back to the previous page</a>' in back
    elsewhere = {"referer": "https://evil.example/"}
    assert "Back to the previous page" not in client.get("/nobody/x", headers=elsewhere).text
    assert client.get("/nobody").status_code == 404
    api = client.get("/api/models/nobody/nothing")
    assert api.headers["content-type"] == "application/json"


def test_gated_repo_shows_its_card_and_takes_requests(client: TestClient, token: str) -> None:
    api_create(client, token, "gated-model")
    api_commit(client, token, "alice/gated-model", {"README.md": b"# Gated\n", "w.txt": b"w\n"})
    login(client, "alice", "pw")
    post_form(client, "/alice/gated-model/settings", visibility="public", gated="auto")
    visitor = TestClient(client.app)
    join(visitor, "gina", "gina-password")
    page = visitor.get("/alice/gated-model").text
    assert "<h1>Gated</h1>" in page and "Ask for access" in page
    refused = visitor.get("/alice/gated-model/blob/main/w.txt")
    assert refused.status_code == 403 and "restricted" in refused.text
    assert post_form(visitor, "/alice/gated-model/ask-access").status_code == 303
    assert "Ask for access" not in visitor.get("/alice/gated-model").text
    assert visitor.get("/alice/gated-model/blob/main/w.txt").status_code == 200
