"""Secrets in pushed text files: detect-secrets' format-specific detectors, and one of ours for
hub tokens (`hf_` and 34 letters or digits, which detect-secrets only sees as entropy).

Only detectors that recognise a format run: the entropy and keyword ones would flag every
tokenizer vocabulary and config. detect-secrets keeps its settings in one global, so they are
set once, on first use, and never swapped per call (scans run on several job threads).
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from dataclasses import dataclass

from detect_secrets.core.scan import scan_file
from detect_secrets.settings import configure_settings_from_baseline

from hugbox.scanning import hub_tokens
from hugbox.scanning.hub_tokens import HUB_TOKEN, HubTokenDetector

MAX_TEXT = 1024 * 1024  # larger files are data, not the configs and code secrets leak into
_DETECTORS = (
    "ArtifactoryDetector", "AWSKeyDetector", "AzureStorageKeyDetector", "BasicAuthDetector",
    "DiscordBotTokenDetector", "GitHubTokenDetector", "GitLabTokenDetector", "JwtTokenDetector",
    "MailchimpDetector", "NpmDetector", "OpenAIDetector", "PrivateKeyDetector",
    "PypiTokenDetector", "SendGridDetector", "SlackDetector", "SquareOAuthDetector",
    "StripeDetector", "TelegramBotTokenDetector", "TwilioKeyDetector",
)  # fmt: skip
_configured = threading.Lock()
_ready = False


@dataclass(frozen=True)
class Finding:
    kind: str  # detect-secrets' secret type ("Hub token", "AWS Access Key", ...)
    line: int
    token_hash: str | None = None  # sha256 of a hub token, to revoke it; never the token


def _configure() -> None:
    global _ready
    with _configured:
        if _ready:
            return
        plugins = [{"name": name} for name in _DETECTORS]
        plugins.append({"name": HubTokenDetector.__name__, "path": f"file://{hub_tokens.__file__}"})
        configure_settings_from_baseline({"plugins_used": plugins, "filters_used": []})
        _ready = True


def find_secrets(data: bytes) -> list[Finding]:
    """The secrets in a text file's bytes (a binary or large file has none we look for)."""
    if len(data) > MAX_TEXT or b"\0" in data[:8192]:
        return []
    _configure()
    with tempfile.NamedTemporaryFile(suffix=".txt") as spool:
        spool.write(data)
        spool.flush()
        found = list(scan_file(spool.name))
    text = data.decode("utf-8", "replace").splitlines()
    return [_finding(secret.type, secret.line_number, text) for secret in found]


def _finding(kind: str, line: int, text: list[str]) -> Finding:
    if kind != HubTokenDetector.secret_type or not 0 < line <= len(text):
        return Finding(kind, line)
    match = HUB_TOKEN.search(text[line - 1])
    token_hash = hashlib.sha256(match[0].encode()).hexdigest() if match else None
    return Finding(kind, line, token_hash)
