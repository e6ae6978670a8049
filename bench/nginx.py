"""nginx as the download baseline: one worker, our own config in a temp dir, loopback only."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from common import free_port, log, stop_process

NGINX = Path("/usr/sbin/nginx")


@dataclass(frozen=True)
class ServedFile:
    """One file at HF's resolve URL, with the headers `hf_hub_download` needs to accept it."""

    url_path: str  # /<namespace>/<name>/resolve/main/<file>
    disk_path: Path
    commit: str
    oid: str
    size: int


def ensure_nginx() -> Path:
    """The Debian package, installed on first use when missing."""
    if NGINX.exists():
        return NGINX
    log("nginx is missing: apt-get install -y nginx")
    quiet = {"stdout": subprocess.DEVNULL, "check": True, "timeout": 600}
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], env=env, **quiet)  # type: ignore[call-overload]
    subprocess.run(["apt-get", "install", "-y", "nginx"], env=env, **quiet)  # type: ignore[call-overload]
    return NGINX


def _config(workdir: Path, port: int, served: ServedFile) -> str:
    temps = "\n".join(
        f"  {kind}_temp_path {workdir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, workers would drop to `nobody`, who cannot enter our 0700 temp dirs.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
{temps}
  server {{
    listen 127.0.0.1:{port};
    location = {served.url_path} {{
      alias {served.disk_path};
      etag off;
      add_header ETag '"{served.oid}"';
      add_header X-Repo-Commit {served.commit};
      add_header X-Linked-Etag '"{served.oid}"';
      add_header X-Linked-Size {served.size};
    }}
  }}
}}
"""


def _wait_ready(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}")
        try:
            httpx.head(url, timeout=1).raise_for_status()
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("nginx did not start within 30 s")


@contextmanager
def running_nginx(workdir: Path, served: ServedFile) -> Iterator[str]:
    """Serve `served` on a free loopback port; yields the base URL."""
    binary = ensure_nginx()
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(_config(workdir, port, served))
    process = subprocess.Popen(
        [str(binary), "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, endpoint + served.url_path)
        yield endpoint
    finally:
        stop_process(process)
        shutil.rmtree(workdir, ignore_errors=True)
