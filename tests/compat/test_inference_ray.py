"""The Inference API on a Ray Serve fleet (`HUGBOX_INFERENCE_BACKEND=ray`): a local Ray cluster
in this test process, the hugbox application deployed on it by `ray_app.deploy`, and a live hub
with two server processes calling it, driven by the stock InferenceClient and openai clients.

Replicas download models from the hub with read grants (`auth.grants`); their logs (in the
cluster's temp dir) show what they loaded and how they batched."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="the `ray` extra is not installed")

from huggingface_hub import InferenceClient  # noqa: E402 - after the skip
from huggingface_hub.errors import HfHubHTTPError  # noqa: E402
from transformers import (  # noqa: E402
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
)

from hugbox.auth import grants  # noqa: E402
from hugbox.settings import Settings  # noqa: E402
from hugbox.signing import load_secret  # noqa: E402
from support import create_token, free_port, run_cli, running_hub  # noqa: E402
from tiny_models import bpe_tokenizer  # noqa: E402

pytestmark = [pytest.mark.compat, pytest.mark.slow]

TEXT = ["The knight rode to the castle.", "A story about a brave knight.", "Write a story."]
WORDS = " ".join(TEXT * 2).split()
CLASSIFIER = "alice/classifier"  # tiny BERT, text-classification
GPT2 = "alice/gpt2"  # tiny GPT-2 with a chat template, text-generation
EMBEDDER = "alice/embedder"  # tiny sentence-transformers BERT, pinned
COLD = "alice/cold"  # a copy of CLASSIFIER that only the loading test calls
TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def _bert(vocab_size: int) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64, num_labels=3,
        id2label={0: "neg", 1: "neu", 2: "pos"}, label2id={"neg": 0, "neu": 1, "pos": 2},
    )  # fmt: skip


def _build_models(root: Path) -> dict[str, Path]:
    import torch

    tokenizer = bpe_tokenizer(TEXT)
    tokenizer.chat_template = TEMPLATE
    torch.manual_seed(0)
    folders = {repo_id: root / repo_id.split("/")[1] for repo_id in (CLASSIFIER, GPT2, EMBEDDER)}
    BertForSequenceClassification(_bert(len(tokenizer))).save_pretrained(folders[CLASSIFIER])
    gpt2 = GPT2Config(vocab_size=len(tokenizer), n_positions=512, n_embd=32, n_layer=2, n_head=2)
    GPT2LMHeadModel(gpt2).save_pretrained(folders[GPT2])
    BertModel(_bert(len(tokenizer))).save_pretrained(folders[EMBEDDER])
    kind = "sentence_transformers.models."
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": kind + "Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": kind + "Pooling"},
    ]
    (folders[EMBEDDER] / "modules.json").write_text(json.dumps(modules))
    for folder in folders.values():
        tokenizer.save_pretrained(folder)
    folders[COLD] = root / "cold"
    folders[COLD].mkdir()
    for item in folders[CLASSIFIER].iterdir():
        (folders[COLD] / item.name).write_bytes(item.read_bytes())
    return folders


@dataclass(frozen=True)
class Fleet:
    hub: str
    token: str  # alice's
    other: str  # bob's: no access to alice's private models
    secret: bytes
    ray_logs: Path
    data_dir: Path

    def url(self, repo_id: str) -> str:
        return f"{self.hub}/models/{repo_id}"

    def post(self, repo_id: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", "x-use-cache": "false", **headers}
        return httpx.post(self.url(repo_id), json=body, headers=headers, timeout=120)

    def replica_log(self) -> str:
        logs = sorted(self.ray_logs.glob("session_latest/logs/serve/replica_*.log"))
        return "".join(path.read_text(errors="replace") for path in logs)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    from ray import serve

    from hugbox.inference.worker import ray_app

    data_dir = tmp_path_factory.mktemp("ray-hub")
    for user in ("alice", "bob"):
        assert run_cli(data_dir, "user", "create", user, "--password", "pw").returncode == 0
    token, other = create_token(data_dir, "alice", "write"), create_token(data_dir, "bob", "write")
    for repo_id, folder in _build_models(tmp_path_factory.mktemp("ray-models")).items():
        result = run_cli(data_dir, "import", str(folder), repo_id, "--private")
        assert result.returncode == 0, result.stderr
    secret = load_secret("", data_dir)  # the hub reads the same key from its data dir
    serve_url = f"http://127.0.0.1:{free_port()}"
    env = {
        "HUGBOX_INFERENCE_BACKEND": "ray",
        "HUGBOX_RAY_SERVE_URL": serve_url,
        "HUGBOX_RAY_REPLICAS": "2",
        "HUGBOX_RAY_REPLICA_CPUS": "0",  # 2 cores: fractional CPUs would never fit (spec §4)
        "HUGBOX_INFERENCE_PINNED": json.dumps([EMBEDDER]),
        "HUGBOX_INFERENCE_MAX_QUEUE": "8",
    }
    # A short path: Ray's socket names must stay under the Unix limit.
    ray_logs = Path(tempfile.mkdtemp(prefix="hbray-", dir="/tmp"))
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(ray_logs),
             logging_level="warning")  # fmt: skip
    try:
        ray_app.deploy(Settings(data_dir=data_dir, **_settings(env)), secret)
        with running_hub(data_dir, env=env, workers=2, log_level="info") as hub:
            yield Fleet(hub, token, other, secret, ray_logs, data_dir)
    finally:
        serve.shutdown()
        ray.shutdown()
        shutil.rmtree(ray_logs, ignore_errors=True)


def _settings(env: dict[str, str]) -> dict[str, Any]:
    keys = {name.removeprefix("HUGBOX_").lower(): value for name, value in env.items()}
    keys["inference_pinned"] = json.loads(keys["inference_pinned"])
    return keys


def _concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(calls))

    def call(function: Callable[[], Any]) -> Any:
        barrier.wait()
        return function()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(call, calls))


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_inference_client_classifies_and_embeds_on_ray(fleet: Fleet) -> None:
    classifier = InferenceClient(model=fleet.url(CLASSIFIER), token=fleet.token)
    labels = classifier.text_classification("A story about a brave knight.")
    assert sorted(item.label for item in labels) == ["neg", "neu", "pos"]
    embedder = InferenceClient(model=fleet.url(EMBEDDER), token=fleet.token)
    vector = embedder.feature_extraction("A brave knight.")
    assert vector.shape == (1, 32) or vector.shape == (32,)
    # Fresh connections reach either of the hub's two server processes: the model loaded once.
    for _ in range(6):
        _ok(fleet.post(CLASSIFIER, {"inputs": "A brave knight."}))
    assert fleet.replica_log().count(f"loaded {CLASSIFIER}@") == 1
    # The hub started no model worker process: the models run in Ray's replicas.
    assert "in worker" not in "".join(p.read_text() for p in fleet.data_dir.glob("server-*.log"))


def test_concurrent_callers_share_batches_and_match_sequential_answers(fleet: Fleet) -> None:
    texts = [" ".join(WORDS[: i + 1]) for i in range(8)]  # 8: each hub process holds 8
    sequential = [_ok(fleet.post(CLASSIFIER, {"inputs": text})) for text in texts]
    together = _concurrently([lambda t=t: fleet.post(CLASSIFIER, {"inputs": t}) for t in texts])
    for alone, response in zip(sequential, together, strict=True):
        scores = [item["score"] for item in sorted(_ok(response)[0], key=lambda i: i["label"])]
        expected = [item["score"] for item in sorted(alone[0], key=lambda i: i["label"])]
        np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5)
    found = re.findall(r"batch of (\d+) for alice/classifier", fleet.replica_log())
    sizes = [int(size) for size in found]
    assert max(sizes) > 1, sizes


def test_streams_and_openai_chat_on_ray(fleet: Fleet) -> None:
    import openai

    client = InferenceClient(model=fleet.url(GPT2), token=fleet.token)
    whole = client.text_generation("The knight", max_new_tokens=6, do_sample=False)
    pieces = list(client.text_generation("The knight", max_new_tokens=6, do_sample=False,
                                         stream=True))  # fmt: skip
    assert len(pieces) >= 2 and "".join(pieces) == whole.removeprefix("The knight")
    chat = openai.OpenAI(base_url=f"{fleet.url(GPT2)}/v1", api_key=fleet.token)
    messages = [{"role": "user", "content": "hello there"}]
    reply = chat.chat.completions.create(model="dummy", messages=messages, max_tokens=6,
                                         temperature=0)  # fmt: skip
    streamed = chat.chat.completions.create(model="dummy", messages=messages, max_tokens=6,
                                            temperature=0, stream=True)  # fmt: skip
    text = "".join(chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices)
    assert text == reply.choices[0].message.content


def test_a_stream_whose_client_leaves_stops_generating(fleet: Fleet) -> None:
    _ok(fleet.post(GPT2, {"inputs": "The knight", "parameters": {"max_new_tokens": 2}}))
    body = {"inputs": "The knight", "parameters": {"max_new_tokens": 400}, "stream": True}
    headers = {"Authorization": f"Bearer {fleet.token}"}
    with httpx.stream("POST", fleet.url(GPT2), json=body, headers=headers, timeout=60) as response:
        assert response.status_code == 200
        assert next(response.iter_lines()).startswith("data:")
    # Leaving the block closed the connection: the replica stops well short of 400 tokens.
    _wait_until(lambda: "stopped after" in fleet.replica_log(), "the cancelled stream's end")
    found = re.findall(r"stream of alice/gpt2 stopped after (\d+) generated tokens",
                       fleet.replica_log())  # fmt: skip
    assert found and int(found[-1]) < 400


def test_a_generation_whose_client_leaves_stops_without_a_stream(fleet: Fleet) -> None:
    """Not streamed: the hub sees its client hang up and closes its call to the fleet; Serve
    cancels the call in the replica, and the job stops at its next token."""
    _ok(fleet.post(GPT2, {"inputs": "The knight", "parameters": {"max_new_tokens": 2}}))
    body = {"inputs": "The knight", "parameters": {"max_new_tokens": 480, "do_sample": False}}
    headers = {"Authorization": f"Bearer {fleet.token}"}
    with pytest.raises(httpx.ReadTimeout):  # the client gives up, and closes its connection
        httpx.post(fleet.url(GPT2), json=body, headers=headers,
                   timeout=httpx.Timeout(60, read=0.3))  # fmt: skip
    _wait_until(lambda: "generation of alice/gpt2 stopped" in fleet.replica_log(),
                "the cancelled generation's end")  # fmt: skip
    found = re.findall(r"generation of alice/gpt2 stopped after (\d+) generated tokens",
                       fleet.replica_log())  # fmt: skip
    assert found and int(found[-1]) < 480


def test_a_private_model_is_refused_to_others(fleet: Fleet) -> None:
    stranger = InferenceClient(model=fleet.url(CLASSIFIER), token=fleet.other)
    with pytest.raises(HfHubHTTPError) as refused:
        stranger.text_classification("A knight.")
    assert refused.value.response.status_code == 404
    anonymous = httpx.post(fleet.url(CLASSIFIER), json={"inputs": "A knight."}, timeout=30)
    assert anonymous.status_code == 401


def test_a_read_grant_reads_its_commit_and_nothing_else(fleet: Fleet) -> None:
    info = httpx.get(f"{fleet.hub}/api/models/{CLASSIFIER}",
                     headers={"Authorization": f"Bearer {fleet.token}"}).json()  # fmt: skip
    sha = info["sha"]
    grant = grants.mint(fleet.secret, repo_type="model", repo_id=CLASSIFIER, revision=sha)
    auth = {"Authorization": f"Bearer {grant}"}

    def status(path: str, method: str = "GET") -> int:
        return httpx.request(method, f"{fleet.hub}{path}", headers=auth, timeout=30).status_code

    assert status(f"/api/models/{CLASSIFIER}/revision/{sha}") == 200
    assert status(f"/{CLASSIFIER}/resolve/{sha}/config.json") == 200
    assert status(f"/{CLASSIFIER}/resolve/main/config.json") == 404  # another revision
    assert status(f"/api/models/{CLASSIFIER}") == 404  # no revision named: not its commit
    assert status(f"/api/models/{GPT2}/revision/{sha}") == 404  # another repo
    assert status(f"/{GPT2}/resolve/{sha}/config.json") == 404
    assert status("/api/whoami-v2") == 401  # not a user's token anywhere else
    assert status(f"/api/models/{CLASSIFIER}/commit/main", "POST") == 401
    forged = grants.mint(b"another secret", repo_type="model", repo_id=CLASSIFIER, revision=sha)
    response = httpx.get(f"{fleet.hub}/api/models/{CLASSIFIER}/revision/{sha}",
                         headers={"Authorization": f"Bearer {forged}"})  # fmt: skip
    assert response.status_code == 401 and response.headers["x-error-message"]


def test_wait_for_model_false_answers_503_while_the_model_loads(fleet: Fleet) -> None:
    body = {"inputs": "A story about a brave knight."}
    started = time.monotonic()
    loading = fleet.post(COLD, body, **{"x-wait-for-model": "false"})
    assert time.monotonic() - started < 2  # no waiting for the replica
    assert loading.status_code == 503, loading.text
    assert set(loading.json()) == {"error", "estimated_time"}
    assert loading.json()["error"] == f"Model {COLD} is currently loading"
    assert loading.json()["estimated_time"] > 0
    assert int(loading.headers["retry-after"]) >= 1
    labels = _ok(fleet.post(COLD, body))  # waits for the load the 503 began
    assert sorted(item["label"] for item in labels[0]) == ["neg", "neu", "pos"]


def test_more_concurrent_requests_than_the_queue_holds_get_429(fleet: Fleet) -> None:
    body = {"inputs": "The knight", "parameters": {"max_new_tokens": 300, "do_sample": False}}
    _ok(fleet.post(GPT2, body))
    # Each hub process holds 8 per model: one of the two gets at least 12 of these.
    responses = _concurrently([lambda: fleet.post(GPT2, body) for _ in range(24)])
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {200, 429}, [r.text for r in responses]
    assert statuses.count(429) >= 1 and statuses.count(200) >= 8
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json() == {"error": "Model is overloaded", "error_type": "overloaded"}
    assert int(refused.headers["retry-after"]) >= 1


def test_the_pinned_model_loaded_at_start_in_its_own_application(fleet: Fleet) -> None:
    _wait_until(lambda: f"loaded {EMBEDDER}@" in fleet.replica_log(), "the pin", 120)
    from ray import serve

    assert any("pinned" in name for name in serve.status().applications)
    _ok(fleet.post(EMBEDDER, {"inputs": "A knight."}))


def _replica_pids() -> list[int]:
    """Processes of the general deployment's replicas (Ray names them in their title)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"ServeReplica:hugbox:ModelServer" in command:
            pids.append(int(entry.name))
    return pids


def test_a_replica_killed_mid_stream_fails_that_stream_and_the_next_call_succeeds(
    fleet: Fleet,
) -> None:
    _ok(fleet.post(GPT2, {"inputs": "The knight", "parameters": {"max_new_tokens": 2}}))
    body = {"inputs": "The knight", "parameters": {"max_new_tokens": 450}, "stream": True}
    headers = {"Authorization": f"Bearer {fleet.token}"}
    lines = []
    with (
        pytest.raises(httpx.HTTPError),  # the stream breaks off, as with a crashed worker process
        httpx.stream("POST", fleet.url(GPT2), json=body, headers=headers, timeout=60) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data:"):
                lines.append(line)
                if len(lines) == 1:
                    for pid in _replica_pids():
                        os.kill(pid, signal.SIGKILL)
    assert 1 <= len(lines) < 450
    answer = _ok(fleet.post(GPT2, {"inputs": "The knight", "parameters": {"max_new_tokens": 3}}))
    assert answer[0]["generated_text"].startswith("The knight")
