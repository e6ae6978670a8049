"""nginx as the download baseline: one worker, our own config in a temp dir, loopback only."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from common import ensure_debian_package, free_port, stop_process, wait_ready

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
    return ensure_debian_package(NGINX, "nginx")


def nginx_config(workdir: Path, server: str, http: str = "") -> str:
    """A one-worker nginx.conf keeping everything in `workdir`; `server` is the server block's
    body, `http` extra lines of the http block."""
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
{http}{temps}
  server {{
{server}
  }}
}}
"""


def start_nginx(workdir: Path, config: str) -> subprocess.Popen[bytes]:
    conf = workdir / "nginx.conf"
    conf.write_text(config)
    return subprocess.Popen(
        [str(ensure_nginx()), "-p", str(workdir), "-e", str(workdir / "error.log"),
         "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _config(workdir: Path, port: int, served: ServedFile) -> str:
    return nginx_config(
        workdir,
        f"""    listen 127.0.0.1:{port};
    location = {served.url_path} {{
      alias {served.disk_path};
      etag off;
      add_header ETag '"{served.oid}"';
      add_header X-Repo-Commit {served.commit};
      add_header X-Linked-Etag '"{served.oid}"';
      add_header X-Linked-Size {served.size};
    }}""",
        http="  default_type application/octet-stream;\n",
    )


@contextmanager
def running_nginx(workdir: Path, served: ServedFile) -> Iterator[str]:
    """Serve `served` on a free loopback port; yields the base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = start_nginx(workdir, _config(workdir, port, served))
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_ready(endpoint + served.url_path, what="nginx", process=process, timeout=30)
        yield endpoint
    finally:
        stop_process(process)
        shutil.rmtree(workdir, ignore_errors=True)
