"""`model_info` throughput with two replicas against one, through nginx (issue 17: >= 1.6x).

One scaled hub (deploy/scaled_hub.py: PostgreSQL, S3 on moto, Redis, nginx) with two replicas,
and a second nginx in front of the first replica alone; ApacheBench (`ab`, C, keep-alive) drives
32 clients at each balancer in turn, alternating, so both see the same machine and database. The
load generator, nginx and PostgreSQL share the machine's cores with the replicas: on a 2-core
machine two replicas cannot get twice the CPU of one, and the note says how busy the cores were.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from common import Result, Workspace, ensure_debian_package, free_port, log

sys.path.insert(0, str(Path(__file__).parents[1] / "deploy"))

from scaled_hub import nginx, scaled_hub  # deploy/ is not a package

CLIENTS = 32
TARGET = 1.6
_RATE = re.compile(rb"Requests per second:\s+([\d.]+)")
_FAILED = re.compile(rb"(?:Failed requests|Non-2xx responses):\s+(\d+)")


def _ab(url: str, token: str, seconds: float) -> tuple[float, int]:
    """Requests per second and failures of `ab -k -c 32` on `url` for `seconds`."""
    ab = ensure_debian_package(Path("/usr/bin/ab"), "apache2-utils")
    command = [str(ab), "-q", "-k", "-c", str(CLIENTS), "-t", str(seconds), "-n", "10000000",
               "-H", f"Authorization: Bearer {token}", url]  # fmt: skip
    out = subprocess.run(command, capture_output=True, check=True, timeout=seconds + 60).stdout
    rate = _RATE.search(out)
    assert rate, out.decode(errors="replace")
    return float(rate[1]), sum(int(n) for n in _FAILED.findall(out))


def _busy() -> float:
    """Seconds the machine's cores have spent busy (all processes), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run(ws: Workspace) -> list[Result]:
    seconds = 3.0 if ws.quick else 8.0
    rounds = 2 if ws.quick else 3
    with scaled_hub(ws.root / "replicas") as hub:
        token = hub.create_user("bench", "pw-bench")
        api = f"{hub.url}/api"
        headers = {"authorization": f"Bearer {token}"}
        created = httpx.post(f"{api}/repos/create", json={"name": "tiny"}, headers=headers)
        created.raise_for_status()
        path = "/api/models/bench/tiny"
        with nginx(ws.root / "one-replica", free_port(), [hub.replicas[0].port]) as one:
            rates: dict[str, list[float]] = {"one": [], "two": []}
            failures = 0
            busy: dict[str, float] = {"one": 0.0, "two": 0.0}
            for name, base in [("one", one), ("two", hub.url)] * rounds:
                _ab(base + path, token, 1.0)  # warm-up: connections, caches
                before = _busy()
                rate, failed = _ab(base + path, token, seconds)
                busy[name] += (_busy() - before) / seconds / rounds
                rates[name].append(rate)
                failures += failed
                log(f"  model_info via {name} replica(s): {rate:.0f} req/s, {failed} failed")
    one_rate, two_rate = (max(rates[k]) for k in ("one", "two"))
    ratio = two_rate / one_rate
    cores = os.cpu_count() or 1
    note = (
        f"model_info through nginx, {CLIENTS} keep-alive clients (ab), best of {rounds} "
        f"alternating runs: one replica {one_rate:.0f} req/s, two {two_rate:.0f} req/s; cores "
        f"busy {busy['one']:.1f} and {busy['two']:.1f} of {cores} (replicas, nginx, PostgreSQL "
        "and ab together)"
    )
    return [
        Result("model_info, 2 replicas vs 1", f"{two_rate:.0f} req/s",
               f"1 replica {one_rate:.0f} req/s", ratio, f">= {TARGET:.1f}x",
               ratio >= TARGET and failures == 0, note=note),
    ]  # fmt: skip
