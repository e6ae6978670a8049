"""What a fine-grained token's permission check adds to `model_info` of a private repo: one
client, alternating rounds with a read token and with a fine-grained token that lists the repo
(`repo.content.read`) among others, on the same hub, so machine noise weighs on both alike.

Target (issue 21): fine-grained p50 - read p50 <= 0.3 ms.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from common import (
    BENCH_USER,
    Result,
    Workspace,
    hugbox_cli,
    log,
    percentile,
    remove_tree,
    running_hub,
    seed_user,
)
from model_info import MODEL_INFO, REPO_ID, _write_repo

TARGET_MS = 0.3
# A token as people make them: a few repos, a namespace and a global permission.
PERMISSIONS = [
    f"model:{REPO_ID}=repo.content.read,repo.write",
    f"dataset:{BENCH_USER}/data=repo.content.read",
    f"user:{BENCH_USER}=inference.serverless.write,collection.write,webhooks.read",
]


def _token(data_dir: Path, *args: str) -> str:
    out = hugbox_cli(data_dir, "token", "create", BENCH_USER, *args)
    return out.strip().splitlines()[-1]


def _round(client: httpx.Client, url: str, token: str, count: int, out: list[float]) -> None:
    headers = {"authorization": f"Bearer {token}"}
    for _ in range(count):
        started = time.perf_counter()
        client.get(url, headers=headers).raise_for_status()
        out.append(time.perf_counter() - started)


def run(ws: Workspace) -> list[Result]:
    rounds, per_round = (10, 50) if ws.quick else (40, 100)
    data_dir = ws.root / "fine-grained-hub"
    data_dir.mkdir()
    try:
        write = seed_user(data_dir)
        _write_repo(ws.root / "fg-model")
        hugbox_cli(data_dir, "import", str(ws.root / "fg-model"), REPO_ID)
        read = _token(data_dir, "--role", "read")
        args = ["--role", "fineGrained", "--global", "discussion.write"]
        fine = _token(data_dir, *args, *(a for p in PERMISSIONS for a in ("--permission", p)))
        samples: dict[str, list[float]] = {"read": [], "fineGrained": []}
        with running_hub(data_dir) as hub, httpx.Client(timeout=30) as client:
            url = hub.endpoint + MODEL_INFO[1]
            settings = f"{hub.endpoint}/api/models/{REPO_ID}/settings"
            auth = {"authorization": f"Bearer {write}"}
            client.put(settings, json={"private": True}, headers=auth).raise_for_status()
            for token in (read, fine):
                _round(client, url, token, per_round, [])  # warm-up: caches, connections
            for _ in range(rounds):
                _round(client, url, read, per_round, samples["read"])
                _round(client, url, fine, per_round, samples["fineGrained"])
    finally:
        remove_tree(data_dir)
        remove_tree(ws.root / "fg-model")
    return [_result(samples)]


def _result(samples: dict[str, list[float]]) -> Result:
    base, fine = (percentile(samples[k], 50) * 1000 for k in ("read", "fineGrained"))
    diff = fine - base
    log(f"  model_info p50: read token {base:.3f} ms, fine-grained {fine:.3f} ms ({diff:+.3f} ms)")
    return Result(
        "model_info p50, fine-grained token (private repo)", f"{fine:.3f} ms",
        f"{base:.3f} ms (read token)", fine / base, f"+<= {TARGET_MS} ms", diff <= TARGET_MS,
        note=f"fine-grained - read = {diff:+.3f} ms p50 over {len(samples['read'])} requests each",
    )  # fmt: skip
