"""One scenario of the compatibility matrix, run inside a client's own venv: `python
scenarios.py NAME`. It uses only the client libraries of that venv and the standard library, and
only calls that exist across the client versions of the matrix (huggingface_hub 0.36 to 2.x,
transformers 4.57 and 5.x, datasets 4.x and 5.x). Exit 0 is a pass; anything else prints why.

The hub, token and seeded repos come from the environment (see matrix.py): HF_ENDPOINT,
HF_TOKEN, COMPAT_USER, COMPAT_MODEL, COMPAT_WEIGHTS_SHA, COMPAT_DATASET.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

ENV = os.environ
LARGE = 12 * 1024 * 1024  # over huggingface_hub's 10 MB threshold: an LFS (or Xet) upload


def _api():  # type: ignore[no-untyped-def]  # the venv's own huggingface_hub
    from huggingface_hub import HfApi

    return HfApi(endpoint=ENV["HF_ENDPOINT"], token=ENV["HF_TOKEN"])


def _new_repo(kind: str = "model") -> str:
    repo_id = f"{ENV['COMPAT_USER']}/compat-{uuid.uuid4().hex[:8]}"
    _api().create_repo(repo_id, repo_type=kind)
    return repo_id


def _sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def download() -> None:
    from huggingface_hub import hf_hub_download

    config = hf_hub_download(ENV["COMPAT_MODEL"], "config.json")
    _check("model_type" in Path(config).read_text(), "config.json downloaded whole")
    weights = hf_hub_download(ENV["COMPAT_MODEL"], "weights.bin")
    _check(_sha(weights) == ENV["COMPAT_WEIGHTS_SHA"], "a large file downloads intact")


def upload_small() -> None:
    from huggingface_hub import hf_hub_download

    repo_id = _new_repo()
    _api().upload_file(path_or_fileobj=b"hello\n", path_in_repo="hello.txt", repo_id=repo_id)
    _check(Path(hf_hub_download(repo_id, "hello.txt")).read_bytes() == b"hello\n", "round trip")


def upload_large() -> None:
    from huggingface_hub import hf_hub_download

    repo_id = _new_repo()
    data = os.urandom(LARGE)
    with tempfile.TemporaryDirectory() as folder:  # a file on disk, as people upload weights
        (Path(folder) / "big.bin").write_bytes(data)
        _api().upload_file(path_or_fileobj=f"{folder}/big.bin", path_in_repo="big.bin",
                           repo_id=repo_id)  # fmt: skip
    got = hf_hub_download(repo_id, "big.bin")
    _check(_sha(got) == hashlib.sha256(data).hexdigest(), "a 12 MiB file round-trips")
    # The path taken: through Xet when hf_xet is installed, else the LFS batch API.
    with_xet = importlib.util.find_spec("hf_xet") is not None
    path = "Xet" if with_xet else "the LFS batch API"
    _check((_xet_hash(repo_id, "big.bin") is not None) == with_xet, f"uploaded through {path}")


def _xet_hash(repo_id: str, path: str) -> str | None:
    request = urllib.request.Request(  # noqa: S310  (the hub under test, over http)
        f"{ENV['HF_ENDPOINT']}/api/models/{repo_id}/tree/main",
        headers={"authorization": f"Bearer {ENV['HF_TOKEN']}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310  (our hub)
        entries = json.load(response)
    return next((e.get("xetHash") for e in entries if e["path"] == path), None)


def create_pr() -> None:
    from huggingface_hub import hf_hub_download

    repo_id = _new_repo()
    info = _api().upload_file(
        path_or_fileobj=b"proposed\n", path_in_repo="pr.txt", repo_id=repo_id, create_pr=True
    )
    pr_url = getattr(info, "pr_url", None) or str(info)
    _check("/discussions/1" in pr_url, f"the commit opened PR #1 ({pr_url})")
    got = hf_hub_download(repo_id, "pr.txt", revision="refs/pr/1")
    _check(Path(got).read_bytes() == b"proposed\n", "the file is on refs/pr/1")


def snapshot() -> None:
    from huggingface_hub import snapshot_download

    folder = Path(snapshot_download(ENV["COMPAT_MODEL"]))
    _check((folder / "config.json").is_file(), "snapshot holds config.json")
    _check(_sha(folder / "weights.bin") == ENV["COMPAT_WEIGHTS_SHA"], "and the large file")


def cli() -> None:
    """`hf` (huggingface_hub 1.x and later) or `huggingface-cli` (0.x): download and upload."""
    binary = Path(sys.executable).parent
    command = next(
        (str(binary / n) for n in ("hf", "huggingface-cli") if (binary / n).exists()), None
    )
    _check(command is not None, "the venv has a CLI")
    assert command is not None
    work = Path(tempfile.mkdtemp())
    _run([command, "download", ENV["COMPAT_MODEL"], "config.json", "--local-dir", str(work)])
    _check((work / "config.json").is_file(), "CLI download")
    (work / "note.txt").write_text("from the CLI\n")
    repo_id = _new_repo()
    _run([command, "upload", repo_id, str(work / "note.txt"), "note.txt"])
    files = _api().list_repo_files(repo_id)
    _check("note.txt" in files, "CLI upload")
    shutil.rmtree(work)


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, env=env
    )
    _check(done.returncode == 0, f"{' '.join(command[:2])}: {done.stderr.strip()[-300:]}")


def pipeline_push() -> None:
    """A tiny BERT classifier and its tokenizer pushed with push_to_hub, then run by pipeline()
    straight from the hub."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        PreTrainedTokenizerFast,
        pipeline,
    )

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "good", "bad"]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]"
    )
    config = BertConfig(
        vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, num_labels=2,
    )  # fmt: skip
    model = BertForSequenceClassification(config)
    repo_id = f"{ENV['COMPAT_USER']}/compat-bert-{uuid.uuid4().hex[:8]}"
    model.push_to_hub(repo_id, token=ENV["HF_TOKEN"])
    tokenizer.push_to_hub(repo_id, token=ENV["HF_TOKEN"])
    answer = pipeline("text-classification", model=repo_id)("hello world")
    _check(answer[0]["label"] in ("LABEL_0", "LABEL_1"), f"pipeline answered {answer}")


def load_dataset_configs() -> None:
    from datasets import load_dataset

    english = load_dataset(ENV["COMPAT_DATASET"], "en", split="train")
    _check(english[0]["text"] == "hello", f"config en, first row {english[0]}")
    french = load_dataset(ENV["COMPAT_DATASET"], "fr", split="train", streaming=True)
    _check(next(iter(french))["text"] == "bonjour", "config fr, streamed")


def dataset_push() -> None:
    from datasets import Dataset, load_dataset

    repo_id = f"{ENV['COMPAT_USER']}/compat-ds-{uuid.uuid4().hex[:8]}"
    Dataset.from_dict({"n": list(range(100))}).push_to_hub(repo_id, token=ENV["HF_TOKEN"])
    back = load_dataset(repo_id, split="train")
    _check(sorted(back["n"]) == list(range(100)), "push_to_hub, then load_dataset")


def git() -> None:
    """git clone with git-lfs (the large file checked out whole), then a push of a new file."""
    work = Path(tempfile.mkdtemp())
    url = ENV["HF_ENDPOINT"].replace("://", f"://{ENV['COMPAT_USER']}:{ENV['HF_TOKEN']}@")
    env = {**ENV, "GIT_TERMINAL_PROMPT": "0"}
    clone = work / "clone"
    _run(["git", "clone", "-q", f"{url}/{ENV['COMPAT_MODEL']}", str(clone)], env=env)
    _check(_sha(clone / "weights.bin") == ENV["COMPAT_WEIGHTS_SHA"], "git-lfs checked it out")
    target = _new_repo()
    _run(["git", "-C", str(clone), "remote", "set-url", "origin", f"{url}/{target}"], env=env)
    _run(["git", "-C", str(clone), "fetch", "-q", "origin"], env=env)
    (clone / "pushed.txt").write_text("pushed with git\n")
    _run(["git", "-C", str(clone), "add", "pushed.txt"], env=env)
    who = ["-c", "user.name=compat", "-c", "user.email=compat@example.com"]
    _run(["git", "-C", str(clone), *who, "commit", "-qm", "push"], env=env)
    _run(["git", "-C", str(clone), "push", "-q", "-f", "origin", "HEAD:main"], env=env)
    _check("pushed.txt" in _api().list_repo_files(target), "the push reached the hub")
    shutil.rmtree(work)


def inference_client() -> None:
    from huggingface_hub import InferenceClient

    url = f"{ENV['HF_ENDPOINT']}/models/{ENV['COMPAT_USER']}/compat-chat"
    text = InferenceClient(model=url, token=ENV["HF_TOKEN"]).text_generation(
        "hello", max_new_tokens=4
    )
    _check(isinstance(text, str), f"text_generation answered {text!r}")


def openai() -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{ENV['HF_ENDPOINT']}/v1", api_key=ENV["HF_TOKEN"])
    reply = client.chat.completions.create(
        model=f"{ENV['COMPAT_USER']}/compat-chat",
        messages=[{"role": "user", "content": "hello there"}],
        max_tokens=4,
    )
    _check(reply.choices[0].message.role == "assistant", f"chat completion: {reply}")


GRADIO_APP = """import gradio as gr

def greet(name):
    return "Hello " + name

with gr.Blocks() as demo:
    box, out = gr.Textbox(), gr.Textbox()
    box.submit(greet, box, out, api_name="greet")

demo.launch()
"""


def gradio_client() -> None:
    """A Gradio space built and run by the hub, called with gradio_client by its repo id."""
    from gradio_client import Client
    from huggingface_hub import CommitOperationAdd

    repo_id = f"{ENV['COMPAT_USER']}/compat-space-{uuid.uuid4().hex[:8]}"
    api = _api()
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio")
    readme = b"---\ntitle: Greeter\nsdk: gradio\napp_file: app.py\n---\n"
    files = {"README.md": readme, "app.py": GRADIO_APP.encode()}
    operations = [CommitOperationAdd(path, data) for path, data in files.items()]
    api.create_commit(repo_id, repo_type="space", operations=operations, commit_message="app")
    _wait_running(repo_id)
    answer = Client(repo_id, verbose=False).predict("you", api_name="/greet")
    _check(answer == "Hello you", f"the space answered {answer!r}")


def _wait_running(repo_id: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    stage = ""
    while time.monotonic() < deadline and stage != "RUNNING":
        stage = str(_api().get_space_runtime(repo_id).stage)
        _check(not stage.endswith("_ERROR"), f"the space is {stage}")
        time.sleep(1)
    _check(stage == "RUNNING", f"the space is still {stage}")


SCENARIOS: dict[str, Callable[[], None]] = {
    "download": download,
    "upload_small": upload_small,
    "upload_large": upload_large,
    "create_pr": create_pr,
    "snapshot": snapshot,
    "cli": cli,
    "pipeline_push": pipeline_push,
    "load_dataset": load_dataset_configs,
    "dataset_push": dataset_push,
    "git": git,
    "inference_client": inference_client,
    "openai": openai,
    "gradio_client": gradio_client,
}


if __name__ == "__main__":
    try:
        SCENARIOS[sys.argv[1]]()
    except Exception as exc:  # the matrix cell shows the reason
        lines = str(exc).strip().splitlines() or [""]
        print(f"{type(exc).__name__}: {lines[-1][:300]}", file=sys.stderr)
        sys.exit(1)
