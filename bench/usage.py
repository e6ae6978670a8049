"""Download counting must not slow downloads: `GET /resolve/` of a file that counts (a model's
`config.json`) against the same bytes under a name that does not (`same.json`), in one hub,
under the same concurrent load, slices taken in turn. Counting only adds to an in-memory set on
the request path; a task writes the counts every second.
"""

from __future__ import annotations

import json

from common import (
    BENCH_USER,
    Result,
    Workspace,
    hugbox_cli,
    log,
    remove_tree,
    running_hub,
    seed_user,
)
from model_info import CLIENTS, Load, _load, _note, _rate

REPO_ID = f"{BENCH_USER}/counted-model"
TARGET = 0.95
ROUTES = {
    "counted": ("GET", f"/{REPO_ID}/resolve/main/config.json"),
    "uncounted": ("GET", f"/{REPO_ID}/resolve/main/same.json"),
}


def run(ws: Workspace) -> list[Result]:
    warmup, duration = (1.0, 4.0) if ws.quick else (2.0, 12.0)
    data_dir, folder = ws.root / "usage-hub", ws.root / "counted-model"
    data_dir.mkdir()
    folder.mkdir()
    try:
        token = seed_user(data_dir)
        config = json.dumps({"model_type": "bert", "hidden_size": 8})
        for name in ("config.json", "same.json"):
            (folder / name).write_text(config)
        hugbox_cli(data_dir, "import", str(folder), REPO_ID)
        with running_hub(data_dir) as hub:
            loads = _load(hub, ROUTES, token, warmup, duration, rounds=4 if ws.quick else 6)
            for name, load in loads.items():
                log(f"  {_note(name, load)}")
    finally:
        remove_tree(data_dir)
        remove_tree(folder)
    return [_result(loads["counted"], loads["uncounted"])]


def _result(counted: Load, uncounted: Load) -> Result:
    ratio = _rate(counted) / _rate(uncounted)
    return Result(
        f"GET resolve with download counting x{CLIENTS} clients", f"{_rate(counted):.0f} req/s",
        f"same bytes, not counted {_rate(uncounted):.0f} req/s", ratio, f">= {TARGET:.2f}x",
        ratio >= TARGET and counted.errors == 0, note=_note("counted config.json", counted),
    )  # fmt: skip
