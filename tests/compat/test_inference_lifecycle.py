"""The inference engine's model lifecycle on live hubs with real worker processes (spec §6):
eviction within a memory budget, wait_for_model, overload, crash recovery, single-flight loads
and batching. Worker pids come from the server's log ("loading <repo> (<task>) in worker <pid>")
and their state from /proc."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
)

from support import create_token, run_cli, running_hub
from tiny_models import bpe_tokenizer

pytestmark = pytest.mark.compat

TEXT = ["The knight rode to the castle.", "A story about a brave knight.", "Write a story."]
WORDS = " ".join(TEXT * 2).split()
# A worker (Python + torch + a tiny model) is ~350 MB resident and the executor plans 400 MB for
# one it has not started yet: 600 MB holds one worker, never two.
ONE_WORKER_BUDGET = 600 * 1024**2

# One data dir for both hubs, holding every model (private, owned by alice). A hub's executor
# is its own, so a model is cold on each hub until that hub's first call for it.
CLASSIFIER = "alice/classifier"  # tiny BERT, text-classification
GPT2 = "alice/gpt2"  # tiny GPT-2, text-generation
COLD_1 = "alice/cold-1"  # copies of CLASSIFIER that only one test calls
COLD_2 = "alice/cold-2"
EMBEDDER = "alice/embedder"  # tiny BERT with a sentence-transformers modules.json

CLASSIFY = {"inputs": "A story about a brave knight."}
GENERATE = {"inputs": "The knight", "parameters": {"max_new_tokens": 5, "do_sample": False}}


def _bert_config(vocab_size: int) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64, num_labels=3,
        id2label={0: "neg", 1: "neu", 2: "pos"}, label2id={"neg": 0, "neu": 1, "pos": 2},
    )  # fmt: skip


def _build_models(root: Path) -> dict[str, Path]:
    """Folders of the tiny models, by the repo id each is imported as."""
    tokenizer = bpe_tokenizer(TEXT)
    torch.manual_seed(0)
    folders = {repo_id: root / repo_id.split("/")[1] for repo_id in (CLASSIFIER, GPT2, EMBEDDER)}
    BertForSequenceClassification(_bert_config(len(tokenizer))).save_pretrained(folders[CLASSIFIER])
    # 256 positions: room for the 200 new tokens of the overload test (no EOS in its vocab).
    gpt2 = GPT2Config(vocab_size=len(tokenizer), n_positions=256, n_embd=32, n_layer=2, n_head=2)
    GPT2LMHeadModel(gpt2).save_pretrained(folders[GPT2])
    BertModel(_bert_config(len(tokenizer))).save_pretrained(folders[EMBEDDER])
    kind = "sentence_transformers.models."
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": kind + "Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": kind + "Pooling"},
    ]
    (folders[EMBEDDER] / "modules.json").write_text(json.dumps(modules))
    for folder in folders.values():
        tokenizer.save_pretrained(folder)
    for copy in (COLD_1, COLD_2):
        folders[copy] = shutil.copytree(folders[CLASSIFIER], root / copy.split("/")[1])
    return folders


@dataclass(frozen=True)
class Library:
    data_dir: Path
    token: str


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    data_dir = tmp_path_factory.mktemp("lifecycle-data")
    assert run_cli(data_dir, "user", "create", "alice", "--password", "pw-alice").returncode == 0
    token = create_token(data_dir, "alice", "write")
    for repo_id, folder in _build_models(tmp_path_factory.mktemp("tiny-models")).items():
        result = run_cli(data_dir, "import", str(folder), repo_id, "--private")
        assert result.returncode == 0, result.stderr
    return Library(data_dir, token)


# --- a live hub, its log and its worker processes ------------------------------------------------


@dataclass(frozen=True)
class LiveHub:
    endpoint: str
    log_path: Path
    server_pid: int
    token: str

    def post(
        self, repo_id: str, body: dict[str, Any], *, path: str = "", **headers: str
    ) -> httpx.Response:
        headers["Authorization"] = f"Bearer {self.token}"
        headers.setdefault("x-use-cache", "false")  # these tests watch the workers run
        url = f"{self.endpoint}/models/{repo_id}{path}"
        return httpx.post(url, json=body, headers=headers, timeout=120)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def workers(self, repo_id: str, task: str) -> list[int]:
        """Pids of the workers started for the model, oldest first."""
        line = rf"loading {re.escape(repo_id)} \({re.escape(task)}\) in worker (\d+)"
        return [int(pid) for pid in re.findall(line, self.log())]

    def live_workers(self) -> set[int]:
        """Worker processes (multiprocessing spawn children) of the server that still run."""
        found = set()
        for entry in Path("/proc").iterdir():
            try:
                state, ppid = _stat(int(entry.name))
                command = (entry / "cmdline").read_bytes()
            except (ValueError, OSError):
                continue
            if ppid == self.server_pid and state not in "ZX" and b"spawn_main" in command:
                found.add(int(entry.name))
        return found


def _stat(pid: int) -> tuple[str, int]:
    """State letter and parent pid of a process (raises OSError when it is gone)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def _alive(pid: int) -> bool:
    try:
        return _stat(pid)[0] not in "ZX"  # a zombie has ended, its parent has not reaped it yet
    except OSError:
        return False


def _server_pid(port: str) -> int:
    wanted = f"\0--port\0{port}\0".encode()
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"\0serve\0" in command and wanted in command:
            return int(entry.name)
    raise AssertionError(f"no hugbox serve on port {port}")


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@contextmanager
def _serve(library: Library, name: str, env: dict[str, str]) -> Iterator[LiveHub]:
    log_path = library.data_dir / f"{name}.log"
    with running_hub(library.data_dir, env=env, log_path=log_path, log_level="info") as endpoint:
        port = endpoint.rsplit(":", 1)[1]
        yield LiveHub(endpoint, log_path, _server_pid(port), library.token)


@pytest.fixture(scope="module")
def tight_hub(library: Library) -> Iterator[LiveHub]:
    """Room for one worker, and two requests per model."""
    env = {
        "HUGBOX_INFERENCE_MEMORY_BUDGET": str(ONE_WORKER_BUDGET),
        "HUGBOX_INFERENCE_MAX_QUEUE": "2",
    }
    with _serve(library, "tight", env) as hub:
        yield hub


@pytest.fixture(scope="module")
def roomy_hub(library: Library) -> Iterator[LiveHub]:
    with _serve(library, "roomy", {"HUGBOX_INFERENCE_MEMORY_BUDGET": str(8 * 1024**3)}) as hub:
        yield hub


def _concurrently(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run the calls at once, each in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def call(function: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait()
        return function()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(call, calls))


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


# --- the tests -----------------------------------------------------------------------------------


def test_an_idle_model_is_evicted_when_another_needs_its_memory(tight_hub: LiveHub) -> None:
    hub = tight_hub
    evictions = hub.log().count(f"evicting {CLASSIFIER} (memory budget)")
    labels = _ok(hub.post(CLASSIFIER, CLASSIFY))
    classifier = hub.workers(CLASSIFIER, "text-classification")[-1]
    assert hub.live_workers() == {classifier}

    generated = _ok(hub.post(GPT2, GENERATE))
    assert generated[0]["generated_text"].startswith("The knight")
    generator = hub.workers(GPT2, "text-generation")[-1]
    assert not _alive(classifier)  # terminated before the new worker started
    assert hub.log().count(f"evicting {CLASSIFIER} (memory budget)") == evictions + 1
    assert hub.live_workers() == {generator}

    assert _ok(hub.post(CLASSIFIER, CLASSIFY)) == labels  # reloaded, same answer
    reloaded = hub.workers(CLASSIFIER, "text-classification")[-1]
    assert reloaded != classifier
    assert not _alive(generator)
    assert f"evicting {GPT2} (memory budget)" in hub.log()
    assert hub.live_workers() == {reloaded}


def test_more_concurrent_requests_than_the_queue_holds_get_429(tight_hub: LiveHub) -> None:
    body = {"inputs": "The knight", "parameters": {"max_new_tokens": 200, "do_sample": False}}
    expected = _ok(tight_hub.post(GPT2, body))  # warm; one such call runs ~0.2 s
    responses = _concurrently([lambda: tight_hub.post(GPT2, body) for _ in range(8)])
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {200, 429}, [r.text for r in responses]
    assert statuses.count(200) >= 2  # the queue holds two: the first two always get in
    assert statuses.count(429) >= 1
    for response in responses:
        if response.status_code == 200:
            assert response.json() == expected
        else:
            assert response.json() == {"error": "Model is overloaded", "error_type": "overloaded"}
            assert int(response.headers["retry-after"]) >= 1


def test_wait_for_model_false_answers_503_while_the_model_loads(roomy_hub: LiveHub) -> None:
    hub = roomy_hub
    started = time.monotonic()
    loading = hub.post(GPT2, GENERATE, **{"x-wait-for-model": "false"})
    assert time.monotonic() - started < 2  # no waiting for the worker
    assert loading.status_code == 503, loading.text
    body = loading.json()
    assert set(body) == {"error", "estimated_time"}
    assert body["error"] == f"Model {GPT2} is currently loading"
    assert isinstance(body["estimated_time"], float) and body["estimated_time"] > 0
    assert int(loading.headers["retry-after"]) >= 1

    generated = _ok(hub.post(GPT2, GENERATE))  # no hint: waits for the load the 503 began
    assert generated[0]["generated_text"].startswith("The knight")
    assert len(hub.workers(GPT2, "text-generation")) == 1
    assert _ok(hub.post(GPT2, GENERATE, **{"x-wait-for-model": "false"})) == generated  # warm


def test_wait_for_model_in_the_body_options(roomy_hub: LiveHub) -> None:
    no_wait = roomy_hub.post(COLD_1, {**CLASSIFY, "options": {"wait_for_model": False}})
    assert no_wait.status_code == 503
    assert no_wait.json()["error"] == f"Model {COLD_1} is currently loading"
    assert "retry-after" in no_wait.headers
    waited = roomy_hub.post(COLD_1, {**CLASSIFY, "options": {"wait_for_model": True}})
    assert sorted(item["label"] for item in _ok(waited)[0]) == ["neg", "neu", "pos"]


def test_a_cold_model_is_loaded_once_for_concurrent_requests(roomy_hub: LiveHub) -> None:
    before = roomy_hub.live_workers()
    bodies = [{"inputs": " ".join(WORDS[: i + 1])} for i in range(8)]
    responses = _concurrently([lambda b=b: roomy_hub.post(COLD_2, b) for b in bodies])
    for response in responses:
        assert sorted(item["label"] for item in _ok(response)[0]) == ["neg", "neu", "pos"]
    [worker] = roomy_hub.workers(COLD_2, "text-classification")
    assert roomy_hub.live_workers() - before == {worker}


def test_a_crashed_worker_is_replaced_and_the_hub_keeps_answering(roomy_hub: LiveHub) -> None:
    hub = roomy_hub
    labels = _ok(hub.post(CLASSIFIER, CLASSIFY))
    crashed = hub.workers(CLASSIFIER, "text-classification")[-1]
    os.kill(crashed, signal.SIGKILL)
    _wait_until(lambda: f"worker {crashed} serving {CLASSIFIER} stopped" in hub.log(), "the exit")

    latencies = []
    with ThreadPoolExecutor(1) as pool:
        reload = pool.submit(hub.post, CLASSIFIER, CLASSIFY)
        while not reload.done():  # the hub answers while a worker imports torch
            started = time.monotonic()
            assert httpx.get(f"{hub.endpoint}/api/agent-harnesses", timeout=5).status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.05)
        assert _ok(reload.result()) == labels
    assert len(latencies) >= 3 and max(latencies) < 1.5, latencies
    replacement = hub.workers(CLASSIFIER, "text-classification")[-1]
    assert replacement != crashed and _alive(replacement)


def _scores(answer: Any) -> list[float]:
    return [item["score"] for item in sorted(answer[0], key=lambda item: item["label"])]


@pytest.mark.parametrize(
    ("repo_id", "path", "values"),
    [
        (CLASSIFIER, "", _scores),  # batched pipeline call
        (EMBEDDER, "/pipeline/feature-extraction", np.asarray),  # batched, pooled in the worker
        (CLASSIFIER, "/pipeline/feature-extraction", np.asarray),  # token embeddings
    ],
    ids=["text-classification", "sentence-embeddings", "token-embeddings"],
)
def test_concurrent_requests_answer_as_sequential_ones(
    roomy_hub: LiveHub, repo_id: str, path: str, values: Callable[[Any], Any]
) -> None:
    texts = [" ".join(WORDS[: i + 1]) for i in range(16)]  # 16 lengths: batches need padding
    sequential = [_ok(roomy_hub.post(repo_id, {"inputs": text}, path=path)) for text in texts]
    calls = [lambda t=text: roomy_hub.post(repo_id, {"inputs": t}, path=path) for text in texts]
    for alone, response in zip(sequential, _concurrently(calls), strict=True):
        np.testing.assert_allclose(values(_ok(response)), values(alone), rtol=1e-4, atol=1e-5)


def test_concurrent_generations_share_a_batch_and_match_sequential_ones(
    roomy_hub: LiveHub,
) -> None:
    # Prompts of different lengths (left padding) and different token limits (per-row stops).
    bodies = [
        {"inputs": " ".join(WORDS[: i + 2]), "parameters": {"max_new_tokens": 4 + i % 5}}
        for i in range(8)
    ]
    sequential = [_ok(roomy_hub.post(GPT2, body)) for body in bodies]
    calls = [lambda b=body: roomy_hub.post(GPT2, b) for body in bodies]
    assert [_ok(response) for response in _concurrently(calls)] == sequential


def test_a_stream_whose_client_leaves_stops_generating(roomy_hub: LiveHub) -> None:
    _ok(roomy_hub.post(GPT2, GENERATE))  # loaded
    body = {"inputs": "The knight", "parameters": {"max_new_tokens": 250}, "stream": True}
    headers = {"Authorization": f"Bearer {roomy_hub.token}"}
    url = f"{roomy_hub.endpoint}/models/{GPT2}"
    with httpx.stream("POST", url, json=body, headers=headers, timeout=60) as response:
        assert response.status_code == 200
        first = next(response.iter_lines())
        assert first.startswith("data:")
    # Leaving the block closed the connection: the worker must stop well short of 250 tokens.
    _wait_until(lambda: "stopped after" in roomy_hub.log(), "the cancelled job's end")
    stopped = re.findall(r"cancelling job (\d+) on alice/gpt2", roomy_hub.log())
    assert stopped
    tokens = re.search(rf"job {stopped[-1]} stopped after (\d+) generated tokens", roomy_hub.log())
    assert tokens is not None and int(tokens.group(1)) < 250
    assert _ok(roomy_hub.post(GPT2, GENERATE))[0]["generated_text"].startswith("The knight")


def test_a_pinned_model_loads_at_start_and_is_never_evicted(library: Library) -> None:
    env = {
        "HUGBOX_INFERENCE_MEMORY_BUDGET": str(ONE_WORKER_BUDGET),
        "HUGBOX_INFERENCE_PINNED": json.dumps([EMBEDDER]),
    }
    with _serve(library, "pinned", env) as hub:
        _wait_until(lambda: f"pinned model {EMBEDDER} loaded" in hub.log(), "the pin", 120)
        [pinned] = hub.workers(EMBEDDER, "feature-extraction")
        _ok(hub.post(CLASSIFIER, CLASSIFY))  # over the budget, but a pinned model stays
        assert f"evicting {EMBEDDER}" not in hub.log()
        assert _alive(pinned)
        _ok(hub.post(EMBEDDER, {"inputs": "A knight."}))
        assert hub.workers(EMBEDDER, "feature-extraction") == [pinned]


def test_requests_waiting_for_a_crashed_worker_move_to_a_new_one(roomy_hub: LiveHub) -> None:
    hub = roomy_hub
    expected = _ok(hub.post(CLASSIFIER, CLASSIFY))
    worker = hub.workers(CLASSIFIER, "text-classification")[-1]
    os.kill(worker, signal.SIGSTOP)  # frozen: the next request is sent to it and never answered
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(hub.post, CLASSIFIER, {"inputs": "A brave knight."})
        time.sleep(0.5)
        waiting = pool.submit(hub.post, CLASSIFIER, CLASSIFY)  # queued behind it in the hub
        time.sleep(0.5)
        os.kill(worker, signal.SIGKILL)
        failed, moved = running.result(), waiting.result()
    assert failed.status_code == 500 and "retry the request" in failed.json()["error"]
    assert _ok(moved) == expected
    assert "1 waiting request(s) for alice/classifier moved to a new worker" in hub.log()
    assert hub.workers(CLASSIFIER, "text-classification")[-1] != worker
