"""detect-secrets' format detectors and the hub-token plugin, on pushed text files."""

from __future__ import annotations

import hashlib
import json

from hugbox.scanning.secrets import find_secrets

TOKEN = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567"


def test_hub_tokens_are_found_with_their_hash_never_their_text() -> None:
    [found] = find_secrets(f"# Usage\n\nlogin(token='{TOKEN}')\n".encode())
    assert (found.kind, found.line) == ("Hub token", 3)
    assert found.token_hash == hashlib.sha256(TOKEN.encode()).hexdigest()
    assert TOKEN not in repr(found)


def test_other_formats_are_found() -> None:
    text = b"aws_key = AKIAIOSFODNN7EXAMPLE\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n"
    assert {f.kind for f in find_secrets(text)} == {"AWS Access Key", "Private Key"}


def test_vocabularies_binaries_and_large_files_are_not_flagged() -> None:
    vocab = {f"Zm9vYmFy{i}YmF6cXV4cXV1eA==": i for i in range(2000)}
    assert find_secrets(json.dumps({"model": {"vocab": vocab}}).encode()) == []
    assert find_secrets(b"\0\x01" + TOKEN.encode()) == []  # binary: not read as text
    assert find_secrets(TOKEN.encode() + b" " * 2 * 1024 * 1024) == []  # data, not a config
