"""File pages: tree, file views and previews, history, diffs, and editing in the browser."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

from fastapi.testclient import TestClient
from webpages import api_commit, api_create, csrf, login, post_form

from tiny_models import bpe_tokenizer


def _safetensors() -> bytes:
    header = {
        "__metadata__": {"format": "pt"},
        "embed.weight": {"dtype": "F32", "shape": [10, 4], "data_offsets": [0, 160]},
        "head.bias": {"dtype": "F16", "shape": [3], "data_offsets": [160, 166]},
    }
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"\0" * 166


def test_upload_browse_history_and_diff(client: TestClient, token: str) -> None:
    api_create(client, token, "files")
    login(client, "alice", "pw")
    assert client.get("/alice/files/upload/main").status_code == 200
    files = [
        ("files", ("model.safetensors", _safetensors(), "application/octet-stream")),
        ("files", ("train.py", b"def train():\n    return 1\n", "text/x-python")),
    ]
    data = {"csrf_token": csrf(client), "folder": "src", "message": "First upload"}
    response = client.post("/alice/files/upload/main", data=data, files=files,
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303 and response.headers["location"].endswith("/tree/main/src")
    tree = client.get("/alice/files/tree/main/src").text
    assert "model.safetensors" in tree and ">LFS<" in tree and "train.py" in tree
    root = client.get("/alice/files/tree/main").text
    assert root.count('class="dir"') == 1 and 'href="/alice/files/upload/main"' in root
    code = client.get("/alice/files/blob/main/src/train.py").text
    assert '<span class="k">def</span>' in code
    assert "/alice/files/resolve/" in code
    tensors = client.get("/alice/files/blob/main/src/model.safetensors").text
    assert "embed.weight" in tensors and "[10, 4]" in tensors and "F16" in tensors
    assert "(43)" in tensors  # 10*4 + 3 parameters
    history = client.get("/alice/files/commits/main").text
    assert "First upload" in history and "initial commit" in history
    sha = re.search(r"/commit/([0-9a-f]{40})\">First upload", history)
    assert sha
    diff = client.get(f"/alice/files/commit/{sha[1]}").text
    assert '<span class="add">+def train():</span>' in diff and "src/model.safetensors" in diff


def test_the_download_button_saves_the_file_under_its_name(client: TestClient, token: str) -> None:
    api_create(client, token, "dl")
    api_commit(client, token, "alice/dl", {"src/notes é.txt": b"hello\n"})
    page = client.get("/alice/dl/blob/main/src/notes%20%C3%A9.txt").text
    button = re.search(r'href="([^"]+\?download=true)"', page)
    assert button, page
    saved = client.get(button[1].replace("&amp;", "&"))
    assert saved.status_code == 200 and saved.content == b"hello\n"
    assert saved.headers["content-disposition"] == "attachment; filename*=UTF-8''notes%20%C3%A9.txt"
    shown = client.get("/alice/dl/resolve/main/src/notes%20%C3%A9.txt")
    assert shown.headers["content-disposition"] == "inline; filename*=UTF-8''notes%20%C3%A9.txt"
    for other in ("false", "0", ""):
        kept = client.get(f"/alice/dl/resolve/main/src/notes%20%C3%A9.txt?download={other}")
        assert kept.headers["content-disposition"].startswith("inline;")


def test_edit_the_card_and_delete_a_file(client: TestClient, token: str) -> None:
    api_create(client, token, "editable")
    api_commit(client, token, "alice/editable", {"old.txt": b"bye\n"})
    login(client, "alice", "pw")
    editor = client.get("/alice/editable/edit/main/README.md")
    assert editor.status_code == 200 and "license: apache-2.0" in editor.text
    response = post_form(client, "/alice/editable/edit/main/README.md",
                         content="---\nlicense: mit\n---\n# Edited **card**\n",
                         message="Edit the card")  # fmt: skip
    assert response.headers["location"] == "/alice/editable"
    page = client.get("/alice/editable").text
    assert "<strong>card</strong>" in page and "license:mit" in page and "Edit the card" in page
    deleted = post_form(client, "/alice/editable/delete/main/old.txt")
    assert deleted.status_code == 303
    assert "old.txt" not in client.get("/alice/editable/tree/main").text
    assert client.get("/alice/editable/blob/main/old.txt").status_code == 404


def test_branch_switcher_and_unknown_revision(client: TestClient, token: str) -> None:
    api_create(client, token, "branches")
    auth = {"authorization": f"Bearer {token}"}
    client.post("/api/models/alice/branches/branch/dev", headers=auth)
    tree = client.get("/alice/branches/tree/main").text
    assert "branch: dev" in tree
    switched = client.get("/alice/branches/tree/main?revision=dev", follow_redirects=False)
    assert switched.headers["location"] == "/alice/branches/tree/dev"
    missing = client.get("/alice/branches/tree/nope")
    assert missing.status_code == 404 and "Invalid rev id" in missing.text


def test_writes_need_rights(client: TestClient, token: str) -> None:
    api_create(client, token, "readonly")
    assert client.get("/alice/readonly/upload/main").status_code == 403
    response = client.post("/alice/readonly/delete/main/.gitattributes", data={})
    assert response.status_code == 403


def test_tokenizer_playground(client: TestClient, token: str, tmp_path: Path) -> None:
    api_create(client, token, "tok")
    bpe_tokenizer(["hello world", "hello there"]).save_pretrained(tmp_path)
    api_commit(
        client, token, "alice/tok", {"tokenizer.json": (tmp_path / "tokenizer.json").read_bytes()}
    )
    page = client.get("/alice/tok/tokenizer", params={"text": "hello world"})
    assert page.status_code == 200
    assert "BPE" in page.text and "&lt;|endoftext|&gt;" in page.text
    assert re.search(r'<span class="t0" title="id \d+ · 0–5">hello</span>', page.text)
    assert "Try the tokenizer" in client.get("/alice/tok").text
    none = client.get("/alice/files-none/tokenizer")
    assert none.status_code == 404


def test_large_folders_are_paged_and_images_previewed(client: TestClient, token: str) -> None:
    api_create(client, token, "many")
    files = {f"f-{i:04d}.txt": b"x" for i in range(505)}
    files["pic.png"] = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
    api_commit(client, token, "alice/many", files)
    first = client.get("/alice/many/tree/main").text
    assert first.count('class="file"') == 500 and "1–500 of 507" in first and "?p=1" in first
    second = client.get("/alice/many/tree/main?p=1").text
    assert second.count('class="file"') == 7 and "pic.png" in second
    preview = client.get("/alice/many/blob/main/pic.png").text
    assert '<img src="/alice/many/resolve/' in preview
    playground = client.get("/alice/many/tokenizer").text
    assert "This repo has no tokenizer.json" in playground
