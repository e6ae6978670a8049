"""Listing 1,000 discussions on one repo: `GET /api/models/{repo}/discussions?p=N` (what
`get_repo_discussions` sends per page of 50), one client after another, p50 per page against the
same client on a trivial route (`/api/agent-harnesses`) in the same run. The issue's target:
under 50 ms p50 per page.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from common import (
    BENCH_USER,
    Hub,
    Result,
    Workspace,
    log,
    percentile,
    remove_tree,
    running_hub,
    seed_user,
)

REPO_ID = f"{BENCH_USER}/talkative"
DISCUSSIONS = 1000
TARGET_P50_MS = 50.0
TRIVIAL = "/api/agent-harnesses"


def _seed(hub: Hub, token: str) -> None:
    """1,000 discussions (every tenth a PR, every third closed, a comment on each fifth)."""
    auth = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=hub.endpoint, headers=auth, timeout=60) as client:
        client.post("/api/repos/create", json={"name": REPO_ID.split("/")[1]}).raise_for_status()

    def one(i: int) -> None:
        with httpx.Client(base_url=hub.endpoint, headers=auth, timeout=60) as client:
            made = client.post(f"/api/models/{REPO_ID}/discussions", json={
                "title": f"Question number {i}", "description": "Why?" * 20,
                "pullRequest": i % 10 == 0,
            })  # fmt: skip
            made.raise_for_status()
            num = made.json()["num"]
            thread = f"/api/models/{REPO_ID}/discussions/{num}"
            if i % 5 == 0:
                client.post(thread + "/comment", json={"comment": "Indeed"}).raise_for_status()
            if i % 3 == 0:
                client.post(thread + "/status", json={"status": "closed"}).raise_for_status()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(DISCUSSIONS)))


def _time(client: httpx.Client, paths: list[str], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        for path in paths:
            started = time.perf_counter()
            client.get(path).raise_for_status()
            samples.append(time.perf_counter() - started)
    return samples


def _measure(hub: Hub, rounds: int) -> dict[str, list[float]]:
    pages = [f"/api/models/{REPO_ID}/discussions?p={p}" for p in range(DISCUSSIONS // 50)]
    filtered = [f"{path}&status=open&type=discussion" for path in pages[:12]]
    details = [f"/api/models/{REPO_ID}/discussions/{n}?diff=1" for n in range(1, 1001, 50)]
    with httpx.Client(base_url=hub.endpoint, timeout=60) as client:
        _time(client, pages[:3] + [TRIVIAL] * 3, 2)  # warm up
        return {
            "trivial": _time(client, [TRIVIAL] * len(pages), rounds),
            "pages": _time(client, pages, rounds),
            "filtered": _time(client, filtered, rounds),
            "details": _time(client, details, rounds),
        }


def _result(name: str, samples: list[float], trivial: list[float], target: bool) -> Result:
    p50, base = percentile(samples, 50) * 1000, percentile(trivial, 50) * 1000
    return Result(
        name, f"{p50:.1f} ms p50 (p95 {percentile(samples, 95) * 1000:.1f} ms)",
        f"trivial route {base:.1f} ms", p50 / base,
        f"< {TARGET_P50_MS:.0f} ms" if target else "", (p50 < TARGET_P50_MS) if target else None,
    )  # fmt: skip


def run(ws: Workspace) -> list[Result]:
    data_dir = ws.root / "discussions-hub"
    data_dir.mkdir()
    try:
        token = seed_user(data_dir)
        with running_hub(data_dir) as hub:
            started = time.monotonic()
            _seed(hub, token)
            log(f"  seeded {DISCUSSIONS} discussions in {time.monotonic() - started:.0f} s")
            times = _measure(hub, rounds=3 if ws.quick else 10)
    finally:
        remove_tree(data_dir)
    trivial = times["trivial"]
    return [
        _result(f"list {DISCUSSIONS} discussions, a page of 50", times["pages"], trivial, True),
        _result("list, status=open&type=discussion", times["filtered"], trivial, True),
        _result("discussion details with diff=1", times["details"], trivial, False),
    ]
