"""`git clone` of a repo with 1,000 small files and one LFS file: hugbox against `git http-backend`
behind nginx + fcgiwrap, serving the very same bare repo and blob on loopback in the same run.

The baseline answers git-lfs's batch call with a fixed JSON document and serves the blob file
with sendfile, so both sides run git-lfs end to end. The LFS file is 256 MiB (64 MiB with
`--quick`); BENCH_GIT_LFS_MIB=1024 gives the issue's full 1 GiB.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from common import (
    BENCH_USER,
    MIB,
    Result,
    Workspace,
    ensure_debian_package,
    free_port,
    hugbox_cli,
    log,
    make_payload,
    remove_tree,
    running_hub,
    seed_user,
    stop_process,
    wait_ready,
)
from hugbox.settings import Settings
from hugbox.storage.blobs import LocalBlobStore
from nginx import nginx_config, start_nginx

REPO_ID = f"{BENCH_USER}/git-clone"
FILES = 1000
LFS_NAME = "model.bin"  # *.bin: LFS by the default .gitattributes
TARGET_RATIO = 1.5
FCGIWRAP = Path("/usr/sbin/fcgiwrap")
HTTP_BACKEND = Path("/usr/lib/git-core/git-http-backend")


def _lfs_size(ws: Workspace) -> int:
    return int(os.environ.get("BENCH_GIT_LFS_MIB", 64 if ws.quick else 256)) * MIB


def _folder(ws: Workspace, lfs_size: int) -> Path:
    folder = ws.root / "git-import"
    for index in range(FILES):
        path = folder / f"src/{index // 100:02d}/file-{index:04d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"file {index}\n" + os.urandom(512).hex() + "\n")
    make_payload(folder / LFS_NAME, lfs_size)
    return folder


def _git_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "lfs", "install", "--skip-repo"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    return env


def _clone(url: str, dest: Path, env: dict[str, str], lfs_size: int) -> float:
    os.sync()  # the previous clone's dirty pages are written back before the clock starts
    started = time.perf_counter()
    subprocess.run(["git", "clone", "-q", url, str(dest)], env=env, check=True,
                   capture_output=True, timeout=1200)  # fmt: skip
    seconds = time.perf_counter() - started
    if (dest / LFS_NAME).stat().st_size != lfs_size:
        raise RuntimeError(f"{url}: {LFS_NAME} was not smudged (git-lfs)")
    remove_tree(dest)
    return seconds


def _nginx_config(workdir: Path, port: int, repos: Path, git_dir: str, blob: Path) -> str:
    oid, size = blob.name, blob.stat().st_size
    batch = json.dumps({"transfer": "basic", "objects": [{"oid": oid, "size": size, "actions": {
        "download": {"href": f"http://127.0.0.1:{port}/lfs/{oid}"}}}]})  # fmt: skip
    params = {
        "SCRIPT_FILENAME": str(HTTP_BACKEND), "GIT_PROJECT_ROOT": str(repos),
        "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": "$1", "QUERY_STRING": "$query_string",
        "REQUEST_METHOD": "$request_method", "CONTENT_TYPE": "$content_type",
        "CONTENT_LENGTH": "$content_length", "HTTP_GIT_PROTOCOL": "$http_git_protocol",
        "HTTP_CONTENT_ENCODING": "$http_content_encoding", "REMOTE_ADDR": "$remote_addr",
    }  # fmt: skip
    fastcgi = "\n".join(f'      fastcgi_param {k} "{v}";' for k, v in params.items())
    return nginx_config(
        workdir,
        f"""    listen 127.0.0.1:{port};
    location = /git/{git_dir}/info/lfs/objects/batch {{
      default_type application/vnd.git-lfs+json;
      return 200 '{batch}';
    }}
    location = /lfs/{oid} {{
      default_type application/octet-stream;
      alias {blob};
    }}
    location ~ ^/git(/.*)$ {{
      fastcgi_pass unix:{workdir / "fcgiwrap.sock"};
      fastcgi_buffering off;
{fastcgi}
    }}""",
        http="  client_max_body_size 0;\n",
    )


@contextmanager
def running_http_backend(workdir: Path, repos: Path, git_dir: str, blob: Path) -> Iterator[str]:
    """nginx + fcgiwrap + git http-backend on a free loopback port; yields the clone URL."""
    ensure_debian_package(FCGIWRAP, "fcgiwrap")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # Its own session: fcgiwrap forks workers, which must stop with it (see the finally below).
    wrap = subprocess.Popen([str(FCGIWRAP), "-c", "4", "-s", f"unix:{workdir / 'fcgiwrap.sock'}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    nginx = start_nginx(workdir, _nginx_config(workdir, port, repos, git_dir, blob))
    url = f"http://127.0.0.1:{port}/git/{git_dir}"
    try:
        wait_ready(f"{url}/info/refs?service=git-upload-pack", what="git http-backend",
                   process=nginx, timeout=30)  # fmt: skip
        yield url
    finally:
        stop_process(nginx)
        os.killpg(wrap.pid, signal.SIGTERM)
        stop_process(wrap)
        shutil.rmtree(workdir, ignore_errors=True)


def _times(runs: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Seconds of every run; the order flips each round so that drift hits both servers alike."""
    for run in runs.values():
        run()  # warm-up, not counted
    times: dict[str, list[float]] = {name: [] for name in runs}
    for index in range(rounds):
        for name in list(runs) if index % 2 == 0 else list(reversed(runs)):
            times[name].append(runs[name]())
            log(f"  round {index + 1}: {name} {times[name][-1]:.2f} s")
    return times


def run(ws: Workspace) -> list[Result]:
    lfs_size = _lfs_size(ws)
    data_dir = ws.root / "git-hub-data"
    data_dir.mkdir()
    seed_user(data_dir)
    folder = _folder(ws, lfs_size)
    log(f"importing {FILES} files and a {lfs_size // MIB} MiB LFS file")
    hugbox_cli(data_dir, "import", str(folder), REPO_ID)
    remove_tree(folder)
    settings = Settings(data_dir=data_dir)
    repos = settings.repos_dir
    git_dir = next(p.name for p in repos.iterdir() if p.suffix == ".git")
    blob = next(p for p in settings.blobs_dir.glob("*/*/*") if p.is_file())
    assert LocalBlobStore(settings.blobs_dir).size(blob.name) == lfs_size
    env = _git_env(ws.root / "git-home")
    dest = ws.root / "git-clone"
    backend = running_http_backend(ws.root / "git-nginx", repos, git_dir, blob)
    with running_hub(data_dir) as hub, backend as baseline:
        hub_url = f"{hub.endpoint}/{REPO_ID}"
        skip = {**env, "GIT_LFS_SKIP_SMUDGE": "1"}
        runs: dict[str, Callable[[], float]] = {
            "full/backend": lambda: _clone(baseline, dest, env, lfs_size),
            "full/hugbox": lambda: _clone(hub_url, dest, env, lfs_size),
            "pack/backend": lambda: _clone_pack(baseline, dest, skip),
            "pack/hugbox": lambda: _clone_pack(hub_url, dest, skip),
        }
        times = _times(runs, 2 if ws.quick else 3)
    return _results(times, lfs_size)


def _clone_pack(url: str, dest: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(["git", "clone", "-q", url, str(dest)], env=env, check=True,
                   capture_output=True, timeout=600)  # fmt: skip
    seconds = time.perf_counter() - started
    remove_tree(dest)
    return seconds


def _results(times: dict[str, list[float]], lfs_size: int) -> list[Result]:
    best = {name: min(values) for name, values in times.items()}
    rows = []
    for kind, label in (("full", f"+ {lfs_size // MIB} MiB LFS"), ("pack", "git only")):
        ratio = best[f"{kind}/hugbox"] / best[f"{kind}/backend"]
        rows.append(Result(
            f"git clone {FILES} files {label}", f"{best[f'{kind}/hugbox']:.2f} s",
            f"http-backend {best[f'{kind}/backend']:.2f} s", ratio, f"<= {TARGET_RATIO}x",
            ratio <= TARGET_RATIO,
        ))  # fmt: skip
    medians = "; ".join(f"{k} {statistics.median(v):.2f}" for k, v in times.items())
    rows[-1] = replace(rows[-1], note=f"git clone medians (s): {medians}")
    return rows
