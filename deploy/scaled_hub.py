"""A scaled hugbox on one machine: several `hugbox serve` replicas behind nginx, sharing one
PostgreSQL database, one S3 bucket, one Redis and one repo volume — the shape of
docs/deployment.md's "Several replicas", started from Debian and PyPI packages only.

    python deploy/scaled_hub.py [--replicas 2] [--port 8100] [--dir data-scaled]

starts it, prints the URL and a token, and stops everything on Ctrl-C. The tests of
tests/scaled/ drive the same `scaled_hub` context manager.

What it starts, and stops by PID:
- S3: moto's server (`moto[server]`, in-memory) unless `S3_ENDPOINT` names a running one (Ceph
  RGW in CI, with `S3_ACCESS_KEY` / `S3_SECRET_KEY`); a bucket of its own.
- PostgreSQL: a database of its own on the server at `HUGBOX_SCALED_PG` (default the local one,
  127.0.0.1:5432, trust auth), dropped at the end.
- Redis: the server at `HUGBOX_SCALED_REDIS` (default redis://127.0.0.1:6379/7), flushed first.
- The replicas: `hugbox serve` on their own ports, one data dir (the shared volume) and one
  secret; spaces stay off (they scale out in a later step). `HUGBOX_SCALED_VOLUMES=/m1:/m2`
  gives each replica its own mount of a network filesystem instead (CI: .ci/glusterfs.sh).
- nginx in front, with the settings the deployment guide names.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

S3_KEY_ID = "hugbox"
S3_SECRET = "hugbox-secret"  # noqa: S105 - moto accepts any; a real server: AWS_* in the env
REGION = "us-east-1"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/7"
START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes] | None, what: str) -> None:
    """Poll `url` until it answers at all (any status), or fail with the process's fate."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} while starting")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer at {url} within {START_TIMEOUT:.0f} s")


def stop(process: subprocess.Popen[bytes], *, timeout: float = 20) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def started(
    command: list[str], log: Path, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process for the duration of the block, its output in `log`."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    try:
        yield process
    finally:
        stop(process)


# --- S3 -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3:
    endpoint: str
    bucket: str
    key_id: str
    secret: str

    def client(self) -> Any:  # boto3 has no stubs here
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            region_name=REGION,
        )

    def object_keys(self) -> list[str]:
        """Every key in the bucket (for tests: where did the bytes land?)."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    @property
    def env(self) -> dict[str, str]:
        return {
            "HUGBOX_BLOB_URL": f"s3://{self.bucket}/hub",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_REGION": REGION,
        }


@contextmanager
def s3_bucket(workdir: Path) -> Iterator[S3]:
    """A fresh bucket on `S3_ENDPOINT`, or on a moto server started for the block."""
    with ExitStack() as stack:
        endpoint = os.environ.get("S3_ENDPOINT")
        # The names tests/s3.py reads too (.ci/ceph-rgw.sh's user by default).
        key_id = os.environ.get("S3_ACCESS_KEY", "test" if endpoint else S3_KEY_ID)
        secret = os.environ.get("S3_SECRET_KEY", "testtest" if endpoint else S3_SECRET)
        if not endpoint:
            port = free_port()
            endpoint = f"http://127.0.0.1:{port}"
            command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
            moto = stack.enter_context(started(command, workdir / "moto.log"))
            wait_until_up(endpoint, moto, "moto")
        s3 = S3(endpoint, f"hugbox-{uuid.uuid4().hex[:12]}", key_id, secret)
        s3.client().create_bucket(Bucket=s3.bucket)
        yield s3


# --- PostgreSQL and Redis -------------------------------------------------------------------


@contextmanager
def pg_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server `server_url` points at; dropped after the block."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"hugbox_scaled_{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


# --- nginx ----------------------------------------------------------------------------------

NGINX_CONF = """\
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log {dir}/access.log;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  upstream hub {{
{servers}
    keepalive 32;
  }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 0;        # commits, LFS and Xet bodies are streamed...
    proxy_request_buffering off;   # ...and not spooled to nginx's disk first
    proxy_buffering off;           # server-sent events and large downloads pass through
    proxy_read_timeout 600s;
    location / {{
      proxy_pass http://hub;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      add_header X-Upstream $upstream_addr always;
    }}
  }}
}}
"""


def nginx_conf(directory: Path, port: int, upstreams: list[int]) -> str:
    # max_fails=0: nginx's passive checks would mark a replica down for 10 s after one failed
    # attempt, including while it starts (spec: both were marked down, every request a 502).
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=0;" for p in upstreams)
    return NGINX_CONF.format(dir=directory, port=port, servers=servers)


@contextmanager
def nginx(workdir: Path, port: int, upstreams: list[int]) -> Iterator[str]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise RuntimeError("nginx is not installed: apt-get install nginx-light")
    directory = workdir / "nginx"
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(nginx_conf(directory, port, upstreams))
    command = [binary, "-p", str(directory), "-c", str(conf), "-g", "daemon off;"]
    url = f"http://127.0.0.1:{port}"
    with started(command, directory / "nginx.out") as process:
        wait_until_up(url, process, "nginx")
        yield url


# --- the replicas ---------------------------------------------------------------------------


@dataclass
class Replica:
    port: int
    log: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "hugbox", "serve", "--port", str(self.port),
                   "--log-level", "warning"]  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
            )

    def wait_ready(self) -> None:
        """Until `/ready` says 200: the database answers and the volume is mounted."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            wait_until_up(f"{self.url}/ready", self.process, f"replica :{self.port}")
            if httpx.get(f"{self.url}/ready", timeout=5).status_code == 200:
                return
            time.sleep(0.2)
        raise RuntimeError(f"replica :{self.port} was not ready within {START_TIMEOUT:.0f} s")

    def kill(self) -> None:
        """`kill -9`: no shutdown of any kind."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@dataclass
class ScaledHub:
    url: str  # the load balancer
    replicas: list[Replica]
    data_dir: Path  # the shared volume
    env: dict[str, str]  # what every replica (and the operator CLI) runs with
    s3: S3
    database_url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The operator CLI on the shared database and storage."""
        return subprocess.run(
            [sys.executable, "-m", "hugbox", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
            env={**os.environ, **self.env},
        )

    def create_user(self, name: str, password: str, *, admin: bool = False) -> str:
        """A user and a write token for them."""
        args = ["user", "create", name, "--password", password, *(["--admin"] if admin else [])]
        for command in (args, ["token", "create", name, "--role", "write"]):
            result = self.cli(*command)
            if result.returncode != 0:
                raise RuntimeError(f"hugbox {' '.join(command[:2])}: {result.stderr}")
        token = result.stdout.strip().splitlines()[-1]
        self.tokens[name] = token
        return token


@contextmanager
def scaled_hub(
    workdir: Path, *, replicas: int = 2, port: int | None = None, seed: bool = False
) -> Iterator[ScaledHub]:
    """Everything the module docstring lists, for the duration of the block; `seed` fills it
    with `hugbox demo`'s content first (real models and datasets, into PostgreSQL and S3)."""
    workdir.mkdir(parents=True, exist_ok=True)
    mounts = [Path(p) for p in os.environ.get("HUGBOX_SCALED_VOLUMES", "").split(":") if p]
    # One folder on the volume, seen through each mount (a replica each, as on separate machines).
    name = f"hub-{uuid.uuid4().hex[:8]}"
    paths = [m / name for m in mounts] or [workdir / "volume"]
    data_dir = paths[0]
    with ExitStack() as stack:
        s3 = stack.enter_context(s3_bucket(workdir))
        database_url = stack.enter_context(
            pg_database(os.environ.get("HUGBOX_SCALED_PG", DEFAULT_PG))
        )
        redis_url = os.environ.get("HUGBOX_SCALED_REDIS", DEFAULT_REDIS)
        flush_redis(redis_url)
        lb_port = port or free_port()
        env = {
            **s3.env,
            "HUGBOX_DATA_DIR": str(data_dir),
            "HUGBOX_DATABASE_URL": database_url,
            "HUGBOX_REDIS_URL": redis_url,
            "HUGBOX_SECRET_KEY": secrets.token_hex(32),
            "HUGBOX_PUBLIC_URL": f"http://127.0.0.1:{lb_port}",
            "HUGBOX_SPACES_ENABLED": "false",
        }
        hub = ScaledHub("", [], data_dir, env, s3, database_url)
        # Migrate once, as an operator would before rolling out (each replica also does it at
        # start, safely); seeding needs the schema anyway.
        hub.create_user("operator", secrets.token_urlsafe(12), admin=True)
        if seed:
            _seed(hub)
        for index in range(replicas):
            own = {**env, "HUGBOX_DATA_DIR": str(paths[index % len(paths)])}
            replica = Replica(free_port(), workdir / f"replica-{index}.log", own)
            hub.replicas.append(replica)
            replica.start()
            stack.callback(replica.stop)
        for replica in hub.replicas:
            replica.wait_ready()
        hub.url = stack.enter_context(nginx(workdir, lb_port, [r.port for r in hub.replicas]))
        yield hub


def _seed(hub: ScaledHub) -> None:
    """`hugbox demo`, with its progress on this terminal (the first run builds models: minutes)."""
    done = subprocess.run([sys.executable, "-m", "hugbox", "demo"], env={**os.environ, **hub.env},
                          check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError("hugbox demo failed: see its output above")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--port", type=int, default=8100, help="The load balancer's port.")
    parser.add_argument("--dir", type=Path, default=Path("data-scaled"), help="Working folder.")
    parser.add_argument("--seed", action="store_true", help="Fill it with `hugbox demo` first.")
    args = parser.parse_args()
    _stop_on_signals()
    workdir = args.dir.resolve()
    with scaled_hub(workdir, replicas=args.replicas, port=args.port, seed=args.seed) as hub:
        print(f"hugbox, {args.replicas} replicas behind nginx: {hub.url}")
        for replica in hub.replicas:
            print(f"  replica {replica.url} (log {replica.log})")
        print(f"  PostgreSQL {hub.database_url}")
        print(f"  S3 {hub.s3.endpoint} bucket {hub.s3.bucket}")
        print(f"  operator (site admin) token: {hub.tokens['operator']}")
        print(f"Try: HF_ENDPOINT={hub.url} HF_TOKEN={hub.tokens['operator']} hf auth whoami")
        print("Ctrl-C stops everything.", flush=True)
        try:
            signal.pause()
        except (KeyboardInterrupt, SystemExit):
            print("stopping", flush=True)


def _stop_on_signals() -> None:
    """Ctrl-C and `kill` both end the block, so that everything is stopped and the database
    dropped (a shell starts a background job with SIGINT ignored: handle it anyway)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


if __name__ == "__main__":
    main()
