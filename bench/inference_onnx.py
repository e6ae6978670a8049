"""Embeddings on ONNX Runtime, side by side with the server people would pick instead (issue 22):
hugbox on transformers, hugbox on ONNX Runtime fp32 and int8, and infinity-emb 0.0.78 with its
ONNX fp32 backend, on the same all-MiniLM-L6-v2 folder, under the same 32 closed-loop clients,
at 1 and 2 threads, hugbox and infinity-emb alternated. Vectors are compared with transformers'.

infinity-emb runs in its own venv under ~/.cache/hugbox-bench/ (created on first use: the only
step that needs the package index; torch pinned to 2.13.0 there so no CUDA build comes), offline.
Its pitfalls (issue 22): it starts inside the model folder with `--model-id .`, needs
`--pooling-method mean`, the ONNX file is exported by `optimum-cli --library-name transformers`,
and it takes no thread setting: ONNX Runtime's threads are pinned by a sitecustomize here.

Run alone: `python bench/run.py --only inference_onnx [--quick]`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from common import (
    BENCH_USER,
    Result,
    Workspace,
    clean_env,
    free_port,
    hugbox_cli,
    log,
    remove_tree,
    running_hub,
    seed_user,
    stop_process,
    wait_ready,
)

if TYPE_CHECKING:
    from inference import Latency, Plan

INFINITY_VERSION = "0.0.78"
INFINITY_VENV = Path.home() / ".cache" / "hugbox-bench" / f"infinity-{INFINITY_VERSION}"
INFINITY_PACKAGES = [f"infinity-emb[server,optimum]=={INFINITY_VERSION}", "optimum-onnx==0.1.0",
                     "onnxruntime==1.31.1", "torch==2.13.0"]  # fmt: skip
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
MINILM_ID = f"{BENCH_USER}/all-MiniLM-L6-v2"
TARGET_VS_INFINITY, TARGET_INT8, EXACT_COSINE = 1.1, 2.0, 0.99999
TARGET_ADDED_MS, LATENCY_CALLS = 3.0, 200  # one sentence at a time, p50 of the added time
SWITCH_TIMEOUT_S = 900.0
# Patches ONNX Runtime's sessions in the infinity-emb process to the bench's thread count.
SITECUSTOMIZE = """
import os
import onnxruntime as _ort

_threads = int(os.environ["BENCH_ORT_THREADS"])
_init = _ort.InferenceSession.__init__


def _pinned(self, path_or_bytes, sess_options=None, *args, **kwargs):
    sess_options = sess_options or _ort.SessionOptions()
    sess_options.intra_op_num_threads = _threads
    sess_options.inter_op_num_threads = 1
    _init(self, path_or_bytes, sess_options, *args, **kwargs)


_ort.InferenceSession.__init__ = _pinned
"""


@dataclass
class OnnxMeasured:
    rates: dict[tuple[str, int], list[float]] = field(default_factory=dict)  # (server, threads)
    cosines: dict[str, float] = field(default_factory=dict)  # server -> min cosine to torch
    vectors: dict[str, list[list[float]]] = field(default_factory=dict)  # server -> 64 vectors
    latencies: dict[int, list[Latency]] = field(default_factory=dict)  # threads -> hugbox onnx

    def add(self, server: str, threads: int, rate: float) -> None:
        self.rates.setdefault((server, threads), []).append(rate)

    def rate(self, server: str, threads: int) -> float:
        values = self.rates[(server, threads)]
        return sorted(values)[len(values) // 2]


def infinity_python() -> Path:
    """The venv's interpreter, the venv built first if missing."""
    python = INFINITY_VENV / "bin" / "python"
    if not (INFINITY_VENV / ".installed").is_file():
        log(f"inference_onnx: building {INFINITY_VENV} (once)")
        subprocess.run(["python3", "-m", "venv", str(INFINITY_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *INFINITY_PACKAGES], check=True)
        (INFINITY_VENV / ".installed").touch()
    return python


def infinity_folder(minilm: Path, work: Path) -> Path:
    """A copy of the model folder plus, at its top, the ONNX file infinity-emb's optimum engine
    loads (in a subfolder, optimum 2.1 does not find it: "only found: onnx/model.onnx")."""
    folder = work / "minilm-infinity"
    shutil.copytree(minilm, folder)  # copies: the export writes config files where it exports
    cli = INFINITY_VENV / "bin" / "optimum-cli"
    command = [str(cli), "export", "onnx", "--model", ".", "--task", "feature-extraction",
               "--library-name", "transformers", "onnx-export"]  # fmt: skip
    subprocess.run(command, cwd=folder, env=clean_env(OFFLINE), check=True, capture_output=True)
    (folder / "onnx-export" / "model.onnx").rename(folder / "model.onnx")
    shutil.rmtree(folder / "onnx-export")
    return folder


@contextmanager
def infinity_server(folder: Path, threads: int) -> Iterator[tuple[str, int]]:
    port = free_port()
    site = folder.parent / "infinity-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    threads_env = {name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                    "BENCH_ORT_THREADS")}  # fmt: skip
    env = clean_env({**OFFLINE, **threads_env, "PYTHONPATH": str(site)})
    command = [str(INFINITY_VENV / "bin" / "infinity_emb"), "v2", "--model-id", ".",
               "--engine", "optimum", "--pooling-method", "mean", "--device", "cpu",
               "--batch-size", "32", "--port", str(port)]  # fmt: skip
    with (folder.parent / "infinity.log").open("ab") as out:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
        try:
            wait_ready(f"http://127.0.0.1:{port}/health", what="infinity-emb", process=process,
                       timeout=300)  # fmt: skip
            yield f"http://127.0.0.1:{port}/embeddings", process.pid
        finally:
            stop_process(process)


def _infinity_vectors(url: str, texts: list[str]) -> list[list[float]]:
    response = httpx.post(url, json={"input": texts, "model": "."}, timeout=300)
    response.raise_for_status()
    return [item["embedding"] for item in response.json()["data"]]


def _hub_vectors(url: str, token: str, texts: list[str]) -> list[list[float]]:
    headers = {"authorization": f"Bearer {token}", "x-use-cache": "false"}
    with httpx.Client(headers=headers, timeout=300) as client:
        _wait_loaded(client, url, texts[0])
        responses = [client.post(url, json={"inputs": text}) for text in texts]
    for response in responses:
        response.raise_for_status()
    return [response.json() for response in responses]


def _wait_loaded(client: httpx.Client, url: str, text: str) -> None:
    """Until the model answers: an int8 load quantises first and may outlast the load timeout
    (503)."""
    deadline = time.monotonic() + SWITCH_TIMEOUT_S
    while (response := client.post(url, json={"inputs": text})).status_code == 503:
        if time.monotonic() > deadline:
            break
        time.sleep(2)
    response.raise_for_status()


def _min_cosine(a: list[list[float]], b: list[list[float]]) -> float:
    import numpy as np

    x, y = np.array(a), np.array(b)
    cosines = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    return float(cosines.min())


def _wait_for_switch(data_dir: Path, precision: str) -> None:
    """Until the worker says it serves the model on ONNX Runtime (or gives up on it)."""
    deadline = time.monotonic() + SWITCH_TIMEOUT_S
    while time.monotonic() < deadline:
        text = (data_dir / "server.log").read_text(errors="replace")
        if f"now runs on ONNX Runtime: {precision}" in text:
            return
        if "stays on transformers" in text:
            raise RuntimeError(text.split("stays on transformers")[1].splitlines()[0])
        time.sleep(1)
    raise TimeoutError("the ONNX export did not finish")


@dataclass(frozen=True)
class OnnxSetup:
    work: Path
    data_dir: Path
    token: str
    minilm: Path
    infinity: Path | None
    texts: list[str]


def _measure_hub(s: OnnxSetup, m: OnnxMeasured, name: str, threads: int, plan: Plan) -> None:
    from inference import embed_load

    env = {"HUGBOX_INFERENCE_THREADS": str(threads), "HUGBOX_INFERENCE_ONNX": "true",
           "HUGBOX_INFERENCE_INT8": "true" if name == "hugbox int8" else "false"}  # fmt: skip
    if name == "hugbox torch":
        env["HUGBOX_INFERENCE_ONNX"] = "false"
    with running_hub(s.data_dir, env) as hub:
        url = f"{hub.endpoint}/models/{MINILM_ID}"
        vectors = _hub_vectors(url, s.token, s.texts[:64])
        if name != "hugbox torch":
            _wait_for_switch(s.data_dir, "int8" if name == "hugbox int8" else "fp32")
            vectors = _hub_vectors(url, s.token, s.texts[:64])
        load = embed_load(url, s.token, s.texts, hub.pid, plan)
        if name == "hugbox onnx":
            _measure_latency(s, m, url, threads, hub.pid)
    m.add(name, threads, load.rate)
    _keep_vectors(m, name, vectors)
    log(f"  {name}, {threads} thread(s): {load.describe()}")


def _measure_latency(s: OnnxSetup, m: OnnxMeasured, url: str, threads: int, pid: int) -> None:
    """One sentence at a time: the hub's round trip against the worker's own time on it
    (x-inference-time), request by request; from a bare socket (what the hub adds), and from
    httpx (what a Python client sees: httpx's own time is in it)."""
    from inference import http_latency

    latency = _socket_latency(url, s.token, s.texts[3], LATENCY_CALLS, pid)
    m.latencies.setdefault(threads, []).append(latency)
    log(f"  hugbox onnx, {threads} thread(s), 1 at a time, bare socket: {_describe(latency)}")
    seen = http_latency(url, s.token, s.texts[3], LATENCY_CALLS, pid)
    log(f"  hugbox onnx, {threads} thread(s), 1 at a time, httpx: {_describe(seen)}")


def _socket_latency(url: str, token: str, text: str, calls: int, pid: int) -> Latency:
    """`http_latency` from one keep-alive socket and a few lines of HTTP/1.1: no client
    library's time in the difference."""
    import socket
    import statistics

    from inference import Cpu, Latency, _cpu_now

    parsed = httpx.URL(url)
    body = json.dumps({"inputs": text}).encode()
    head = (f"POST {parsed.raw_path.decode()} HTTP/1.1\r\nhost: {parsed.netloc.decode()}\r\n"
            f"authorization: Bearer {token}\r\nx-use-cache: false\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n")  # fmt: skip
    request = head.encode() + body
    totals, computes, added = [], [], []
    with socket.create_connection((parsed.host, parsed.port or 80)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        _exchange(sock, reader, request)  # warm
        started, before = time.perf_counter(), _cpu_now(pid)
        for _ in range(calls):
            sent = time.perf_counter()
            headers = _exchange(sock, reader, request)
            totals.append(time.perf_counter() - sent)
            computes.append(float(headers["x-compute-time"]))
            added.append(totals[-1] - float(headers["x-inference-time"]) / 1000)
        after, seconds = _cpu_now(pid), time.perf_counter() - started
    cpu = Cpu(*((b - a) / seconds for a, b in zip(before, after, strict=True)))
    return Latency(
        statistics.median(totals), statistics.median(computes), statistics.median(added), cpu
    )


def _exchange(sock: Any, reader: Any, request: bytes) -> dict[str, str]:
    """Send `request`, read its answer whole; the answer's headers (a 200 is required)."""
    sock.sendall(request)
    status = reader.readline().split()[1]
    headers = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    reader.read(int(headers["content-length"]))
    if status != b"200":
        raise RuntimeError(f"the hub answered {status.decode()}")
    return headers


def _describe(latency: Latency) -> str:
    worker = latency.median - latency.added
    return (
        f"p50 {latency.median * 1000:.2f} ms a request, {worker * 1000:.2f} ms of it in the "
        f"worker, {latency.added * 1000:.2f} ms added (p50 of each request's own difference)"
    )


def _keep_vectors(m: OnnxMeasured, name: str, vectors: list[list[float]]) -> None:
    m.vectors[name] = vectors
    if "hugbox torch" in m.vectors:
        for other, values in m.vectors.items():
            m.cosines[other] = _min_cosine(values, m.vectors["hugbox torch"])


def _measure_infinity(s: OnnxSetup, m: OnnxMeasured, threads: int, plan: Plan) -> None:
    import asyncio

    from inference import CLIENTS, _closed_loop

    assert s.infinity is not None
    with infinity_server(s.infinity, threads) as (url, pid):
        _keep_vectors(m, "infinity-emb onnx", _infinity_vectors(url, s.texts[:64]))
        bodies = [json.dumps({"input": [text], "model": "."}).encode() for text in s.texts]
        load = asyncio.run(_closed_loop(url, {}, bodies, pid, plan))
    m.add("infinity-emb onnx", threads, load.rate)
    log(f"  infinity-emb ONNX fp32 ({CLIENTS} clients), {threads} thread(s): {load.describe()}")


def measure(s: OnnxSetup, plan: Plan, rounds: int) -> OnnxMeasured:
    """Every server at 1 and 2 threads; hugbox ONNX and infinity-emb alternated `rounds` times
    (the median is reported)."""
    m = OnnxMeasured()
    for threads in (1, 2):
        log(f"inference_onnx: {threads} thread(s)")
        _measure_hub(s, m, "hugbox torch", threads, plan)
        for _ in range(rounds):
            _measure_hub(s, m, "hugbox onnx", threads, plan)
            if s.infinity is not None:
                _measure_infinity(s, m, threads, plan)
        _measure_hub(s, m, "hugbox int8", threads, plan)
    return m


def rows(m: OnnxMeasured) -> list[Result]:
    out = []
    for threads in (1, 2):
        tag = f"embeddings x32, {threads} thread{'s' * (threads > 1)}"
        onnx, torch_rate = m.rate("hugbox onnx", threads), m.rate("hugbox torch", threads)
        int8 = m.rate("hugbox int8", threads)
        out.append(Result(f"{tag}: hugbox ONNX fp32 vs hugbox transformers",
                          f"{onnx:.0f} sent/s", f"{torch_rate:.0f} sent/s", onnx / torch_rate,
                          "(info)"))  # fmt: skip
        if ("infinity-emb onnx", threads) in m.rates:
            peer = m.rate("infinity-emb onnx", threads)
            out.append(Result(f"{tag}: hugbox ONNX fp32 vs infinity-emb ONNX fp32",
                              f"{onnx:.0f} sent/s", f"{peer:.0f} sent/s", onnx / peer,
                              f">= {TARGET_VS_INFINITY}x",
                              onnx >= TARGET_VS_INFINITY * peer))  # fmt: skip
        out.append(Result(f"{tag}: hugbox int8 vs hugbox ONNX fp32", f"{int8:.0f} sent/s",
                          f"{onnx:.0f} sent/s", int8 / onnx, f">= {TARGET_INT8}x",
                          int8 >= TARGET_INT8 * onnx))  # fmt: skip
    out += [_latency_row(threads, values) for threads, values in sorted(m.latencies.items())]
    for name, cosine in sorted(m.cosines.items()):
        if name == "hugbox torch":
            continue
        exact = name != "hugbox int8"
        out.append(Result(f"embeddings: {name} vs transformers, lowest cosine of 64",
                          f"{cosine:.7f}", "1.0", None,
                          f">= {EXACT_COSINE}" if exact else "(info: int8)",
                          cosine >= EXACT_COSINE if exact else None))  # fmt: skip
    return out


def _latency_row(threads: int, values: list[Latency]) -> Result:
    latency = sorted(values, key=lambda v: v.added)[len(values) // 2]  # the median round
    worker = latency.median - latency.added
    return Result(f"embedding, 1 request at a time, ONNX fp32, {threads} thread"
                  f"{'s' * (threads > 1)}: added latency", f"{latency.added * 1000:.2f} ms",
                  f"worker {worker * 1000:.2f} ms", latency.median / worker,
                  f"<= {TARGET_ADDED_MS:.0f} ms", latency.added * 1000 <= TARGET_ADDED_MS,
                  note=f"latency, {threads} thread(s): {_describe(latency)}; "
                       f"{latency.cpu.describe()}")  # fmt: skip


def prepare(work: Path, minilm: Path, texts: list[str]) -> OnnxSetup:
    data_dir = work / "hub-onnx"
    data_dir.mkdir(parents=True)
    token = seed_user(data_dir)
    hugbox_cli(data_dir, "import", str(minilm), MINILM_ID)
    try:
        infinity_python()
        folder: Path | None = infinity_folder(minilm, work)
    except (OSError, subprocess.CalledProcessError) as exc:
        log(f"inference_onnx: infinity-emb unavailable, hugbox rows only: {exc}")
        folder = None
    return OnnxSetup(work, data_dir, token, minilm, folder, texts)


def run(ws: Workspace) -> list[Result]:
    from inference import _plan, minilm_folder, sentences

    work = ws.root / "inference-onnx"
    try:
        plan = _plan(ws.quick)
        setup = prepare(work, minilm_folder(work), sentences(1024, 1))
        return rows(measure(setup, plan, 1 if ws.quick else 3))
    finally:
        remove_tree(work)
