"""Dataset viewer on a generated csv dataset (1,000,000 rows of ~250 B text + int + float;
--quick: 100,000): `/rows` at random offsets, `/search` for a rare term, `/filter` with one
numeric predicate (each against a trivial route on the same hub), and conversion throughput
against a bare pyarrow csv → parquet conversion of the same file, both in this process.

Latencies come from one sequential client, so they are the cost of one request, not of a load.
"""

from __future__ import annotations

import random
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from common import (
    BENCH_USER,
    Result,
    Workspace,
    hugbox_cli,
    log,
    percentile,
    running_hub,
    seed_user,
)

REPO_ID = f"{BENCH_USER}/viewer-bench"
RARE = "xylophonist"
VOCABULARY = [f"w{i:05d}" for i in range(20_000)]
SAMPLES = {"rows": 400, "search": 100, "filter": 60, "trivial": 200}
TARGETS_MS = {"rows p50": 5.0, "rows p99": 50.0, "search p50": 10.0, "filter p50": 150.0}
TARGET_THROUGHPUT = 0.7


def write_csv(path: Path, rows: int) -> None:
    """~250 B of text per row from a 20k-word vocabulary; the rare term in 5 rows."""
    rng = random.Random(0)
    rare = set(rng.sample(range(rows), 5))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        handle.write("text,label,score\n")
        for i in range(rows):
            text = " ".join(rng.choices(VOCABULARY, k=38))
            text = f"{RARE} {text}" if i in rare else text
            handle.write(f"{text},{i % 10},{rng.random():.6f}\n")


def _best(action: Callable[[], object], runs: int = 2) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def _throughput(folder: Path, work: Path) -> Result:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from hugbox.viewer import convert

    def bare() -> None:
        pq.write_table(
            pcsv.read_csv(folder / "train.csv"), work / "bare.parquet", compression="zstd"
        )

    def ours() -> None:
        shutil.rmtree(work / "out", ignore_errors=True)
        export = convert.convert_config(folder, "default", work / "out", max_bytes=10**13)
        assert export.error is None, export.error

    warm = work / "warm"  # imports (datasets, torch) happen once per server process
    write_csv(warm / "train.csv", 100)
    convert.convert_config(warm, "default", work / "warm-out", max_bytes=10**9)
    size = (folder / "train.csv").stat().st_size
    baseline, measured = _best(bare), _best(ours)
    mb_s = size / 1e6 / measured
    return Result(
        "viewer conversion csv -> parquet",
        f"{measured:.2f} s ({mb_s:.0f} MB/s)",
        f"pyarrow {baseline:.2f} s",
        baseline / measured,
        f">= {TARGET_THROUGHPUT}x pyarrow",
        baseline / measured >= TARGET_THROUGHPUT,
    )


def _wait(client: httpx.Client, path: str, params: dict[str, object], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        response = client.get(path, params=params)
        if response.status_code == 200:
            return time.monotonic() - started
        if response.status_code != 503:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
        time.sleep(0.5)
    raise RuntimeError(f"{path} not ready after {timeout} s")


def _timed(client: httpx.Client, path: str, params_list: list[dict[str, object]]) -> list[float]:
    samples = []
    for params in params_list:
        started = time.perf_counter()
        response = client.get(path, params=params)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
    return samples


def _latency(name: str, samples: list[float], trivial: float, pct: int) -> Result:
    value = (statistics.median(samples) if pct == 50 else percentile(samples, pct)) * 1000
    target = TARGETS_MS[f"{name} p{pct}"]
    return Result(
        f"viewer /{name} p{pct}",
        f"{value:.1f} ms",
        f"trivial route {trivial:.1f} ms",
        value / trivial,
        f"<= {target:.0f} ms",
        value <= target,
    )


def run(ws: Workspace) -> list[Result]:
    rows = 100_000 if ws.quick else 1_000_000
    folder, work = ws.root / "viewer-data", ws.root / "viewer-work"
    log(f"viewer: writing a {rows:,}-row csv")
    write_csv(folder / "train.csv", rows)
    work.mkdir()
    results = [_throughput(folder, work)]
    data_dir = ws.root / "viewer-hub"
    data_dir.mkdir()
    token = seed_user(data_dir)
    page = {"dataset": REPO_ID, "config": "default", "split": "train"}
    with (
        running_hub(data_dir) as hub,
        httpx.Client(
            base_url=f"{hub.endpoint}/datasets-server",
            headers={"authorization": f"Bearer {token}"},
            timeout=120,
        ) as client,
    ):
        started = time.monotonic()
        hugbox_cli(data_dir, "import", str(folder), REPO_ID, "--repo-type", "dataset")
        converted = _wait(client, "/rows", {**page, "length": 1}, 1800) + time.monotonic() - started
        indexed = _wait(client, "/search", {**page, "query": RARE}, 1800)
        log(f"viewer: import + conversion job {converted:.1f} s, search index {indexed:.1f} s more")
        rng = random.Random(1)
        trivial = _timed(client, f"{hub.endpoint}/api/agent-harnesses", [{}] * SAMPLES["trivial"])
        floor = statistics.median(trivial) * 1000
        offsets = [{**page, "offset": rng.randrange(rows - 100)} for _ in range(SAMPLES["rows"])]
        rows_ms = _timed(client, "/rows", offsets)
        search_ms = _timed(client, "/search", [{**page, "query": RARE}] * SAMPLES["search"])
        wheres = [
            {**page, "where": f'"score" > {rng.random():.3f}'} for _ in range(SAMPLES["filter"])
        ]
        filter_ms = _timed(client, "/filter", wheres)
    results += [
        _latency("rows", rows_ms, floor, 50),
        _latency("rows", rows_ms, floor, 99),
        _latency("search", search_ms, floor, 50),
        _latency("filter", filter_ms, floor, 50),
    ]
    note = (
        f"viewer: {rows:,} rows; the conversion job (checkout, convert, statistics, publish) "
        f"took {converted:.1f} s after import, the search/filter index {indexed:.1f} s more"
    )
    return [*results[:-1], Result(**{**results[-1].__dict__, "note": note})]
