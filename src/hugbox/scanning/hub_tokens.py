"""detect-secrets' plugin for hub tokens. detect-secrets loads custom plugins by executing their
file as a module of its own: this file holds the detector and nothing else."""

from __future__ import annotations

import re

from detect_secrets.plugins.base import RegexBasedDetector

HUB_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{34}\b")


class HubTokenDetector(RegexBasedDetector):
    """A hugbox or Hugging Face access token (detect-secrets sees it only as entropy)."""

    secret_type = "Hub token"  # noqa: S105 - the name of a kind of secret
    denylist = (HUB_TOKEN,)
