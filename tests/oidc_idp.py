"""A real OpenID Connect provider for the SSO tests: `oidc-provider` from the npm registry,
installed once (pinned) in a cache dir, run from `tests/oidc/provider.mjs` on a free port and
stopped by its process id. Skips with the reason when Node.js or the npm registry is missing."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import free_port

OIDC_PROVIDER_VERSION = "9.13.3"
CACHE = Path.home() / ".cache" / "hugbox-tests" / "oidc"
SCRIPT = Path(__file__).resolve().parent / "oidc" / "provider.mjs"


def install_provider() -> Path:
    """The cache dir holding oidc-provider (installed on first use) and the provider script.
    The script runs from there: Node resolves ES module imports from the script's folder."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("needs Node.js and npm for the OIDC provider (oidc-provider)")
    CACHE.mkdir(parents=True, exist_ok=True)
    # Test workers (pytest-xdist) may start together: one installs, the others wait for it.
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        package = CACHE / "node_modules" / "oidc-provider" / "package.json"
        installed = package.exists() and json.loads(package.read_text())["version"]
        if installed != OIDC_PROVIDER_VERSION:
            _npm_install()
        shutil.copy(SCRIPT, CACHE / SCRIPT.name)
    return CACHE


def _npm_install() -> None:
    (CACHE / "package.json").write_text('{"private": true}\n')
    result = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", f"oidc-provider@{OIDC_PROVIDER_VERSION}"],
        cwd=CACHE, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.skip(f"npm could not install oidc-provider (registry unreachable?): "
                    f"{result.stderr[-300:]}")  # fmt: skip


@dataclass
class Idp:
    issuer: str
    users_file: Path

    def set_users(self, users: dict[str, dict[str, Any]]) -> None:
        """{sub: claims}: read again at each sign-in."""
        self.users_file.write_text(json.dumps(users))


def _wait_ready(process: subprocess.Popen[bytes], issuer: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the OIDC provider exited with {process.returncode}")
        try:
            httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the OIDC provider did not start within 30 s")


@contextmanager
def running_idp(scratch: Path, clients: list[dict[str, Any]]) -> Iterator[Idp]:
    """The provider with `clients` (oidc-provider client metadata), until the block ends."""
    folder = install_provider()
    port = free_port()
    idp = Idp(issuer=f"http://127.0.0.1:{port}", users_file=scratch / "idp-users.json")
    idp.set_users({})
    env = {**os.environ, "PORT": str(port), "ISSUER": idp.issuer,
           "CLIENTS": json.dumps(clients), "USERS_FILE": str(idp.users_file)}  # fmt: skip
    with (scratch / "idp.log").open("wb") as log:
        process = subprocess.Popen(
            ["node", "provider.mjs"], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_ready(process, idp.issuer)
            yield idp
        finally:
            process.terminate()
            process.wait(timeout=30)


def client(client_id: str, secret: str, redirect_uri: str, **extra: Any) -> dict[str, Any]:
    return {
        "client_id": client_id, "client_secret": secret, "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code"], "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic", **extra,
    }  # fmt: skip


def sign_in(http: httpx.Client, start_url: str, sub: str) -> httpx.Response:
    """Through the provider as a browser would, without one: the hub's login redirect, the
    provider's form (pick `sub`), and back to the hub's callback; the callback's answer."""
    response = http.get(start_url, follow_redirects=False)
    for _ in range(10):
        location = response.headers.get("location")
        if response.url.path.endswith("/sso/callback") or location is None:
            return response
        url = response.url.join(location)
        if "/interaction/" in url.path and not url.path.endswith("/login"):
            response = http.post(url.join(f"{url.path}/login"), data={"sub": sub})
        else:
            response = http.get(url, follow_redirects=False)
    raise AssertionError("too many redirects signing in")
