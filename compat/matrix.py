"""The compatibility matrix (`make compat`): the client versions people have installed, each in a
venv of its own, against one live hugbox; writes docs/compatibility.md.

Each cell is a real scenario (compat/scenarios.py) run by that venv's interpreter. Venvs are
built with uv into a cache outside the project (`$HUGBOX_COMPAT_CACHE`, default
~/.cache/hugbox-compat) and reused while their requirements are unchanged; torch comes from the
local CPU wheel (pinned: an unpinned torch pulls a multi-GB CUDA build).

Run: .venv/bin/python compat/matrix.py [--only ENV ...] [--no-write]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from support import create_token, run_cli, running_hub  # noqa: E402

DOC = ROOT / "docs" / "compatibility.md"
CACHE = Path(os.environ.get("HUGBOX_COMPAT_CACHE", Path.home() / ".cache" / "hugbox-compat"))
TORCH = "torch==2.13.0"
HUB_SCENARIOS = ("download", "upload_small", "upload_large", "create_pr", "snapshot", "cli")
TOOL_SCENARIOS = ("git", "inference_client", "openai", "gradio_client")


@dataclass(frozen=True)
class Env:
    """A client set: what its venv installs, which scenarios it runs, and why a cell is absent."""

    name: str
    requirements: tuple[str, ...]
    scenarios: tuple[str, ...]
    without_xet: bool = False  # hf_xet uninstalled after the install (0.3x+ depend on it)
    own_venv: bool = True  # False: the clients of the project's own venv (one version each)

    @property
    def key(self) -> str:
        spec = json.dumps([self.requirements, self.without_xet])
        return hashlib.sha256(spec.encode()).hexdigest()[:12]


def _hub(version: str, xet: bool) -> Env:
    label = f"huggingface_hub {version}, {'with' if xet else 'without'} hf_xet"
    return Env(label, (f"huggingface_hub=={version}",), HUB_SCENARIOS, without_xet=not xet)


ENVS: tuple[Env, ...] = (
    *(_hub(v, xet) for v in ("0.36.2", "1.33.0", "2.4.0") for xet in (True, False)),
    Env("transformers 4.57", ("transformers==4.57.6", TORCH), ("pipeline_push", "download")),
    Env("transformers 5.x", ("transformers>=5,<6", TORCH), ("pipeline_push", "download")),
    Env("datasets 4.x", ("datasets>=4,<5",), ("load_dataset", "dataset_push")),
    Env("datasets 5.x", ("datasets>=5,<6",), ("load_dataset", "dataset_push")),
    Env(
        "git + git-lfs, InferenceClient, openai, gradio_client", (), TOOL_SCENARIOS, own_venv=False
    ),
)
SCENARIOS = tuple(dict.fromkeys(s for env in ENVS for s in env.scenarios))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def venv_python(env: Env) -> Path:
    """The env's interpreter, building its venv first unless the cache holds it."""
    if not env.own_venv:
        return Path(sys.executable)
    folder = CACHE / env.key
    python = folder / "bin" / "python"
    if (folder / ".ready").exists():
        return python
    log(f"building the venv for {env.name} in {folder}")
    uv = [str(Path(sys.executable).parent / "uv")]
    subprocess.run([*uv, "venv", "-q", "--python", sys.executable, str(folder)], check=True)
    install = [*uv, "pip", "install", "-q", "--python", str(python), "--find-links", "/opt/wheels"]
    subprocess.run([*install, *env.requirements], check=True)
    if env.without_xet:
        subprocess.run([*uv, "pip", "uninstall", "-q", "--python", str(python), "hf_xet"],
                       check=False)  # fmt: skip
    (folder / ".ready").write_text(json.dumps(env.requirements))
    return python


@dataclass(frozen=True)
class Seed:
    endpoint: str
    token: str
    weights_sha: str


def seed(endpoint: str, data_dir: Path) -> Seed:
    """alice, her token, a model repo (config + a 12 MiB file) and a dataset with two configs."""
    from huggingface_hub import HfApi

    token = create_token(data_dir, "alice", "write")
    api = HfApi(endpoint=endpoint, token=token)
    api.create_repo("alice/compat-model")
    weights = os.urandom(12 * 1024 * 1024)
    api.upload_file(
        path_or_fileobj=weights, path_in_repo="weights.bin", repo_id="alice/compat-model"
    )
    config = json.dumps({"model_type": "bert"}).encode()
    api.upload_file(
        path_or_fileobj=config, path_in_repo="config.json", repo_id="alice/compat-model"
    )
    api.create_repo("alice/compat-data", repo_type="dataset")
    for config_name, word in (("en", "hello"), ("fr", "bonjour")):
        api.upload_file(
            path_or_fileobj=f"text\n{word}\n".encode(),
            path_in_repo=f"{config_name}/train.csv",
            repo_id="alice/compat-data",
            repo_type="dataset",
        )
    card = (
        "---\nconfigs:\n"
        + "".join(f"- config_name: {c}\n  data_files: {c}/train.csv\n" for c in ("en", "fr"))
        + "---\n"
    )
    api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md",
                    repo_id="alice/compat-data", repo_type="dataset")  # fmt: skip
    seed_chat_model(data_dir)
    return Seed(endpoint, token, hashlib.sha256(weights).hexdigest())


CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def seed_chat_model(data_dir: Path) -> None:
    """`alice/compat-chat`: a tiny GPT-2 with a chat template, for the inference clients."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from tiny_models import bpe_tokenizer

    tokenizer = bpe_tokenizer(["user: hello there\nassistant: hi, how are you?"])
    tokenizer.chat_template = CHAT_TEMPLATE
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=32, n_layer=2, n_head=2)
    with tempfile.TemporaryDirectory(prefix="hugbox-compat-chat-") as folder:
        GPT2LMHeadModel(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        done = run_cli(data_dir, "import", folder, "alice/compat-chat")
    if done.returncode != 0:
        raise RuntimeError(f"hugbox import failed: {done.stderr}")


def run_cell(python: Path, scenario: str, hub: Seed) -> str:
    """'ok', or the reason the scenario failed."""
    with tempfile.TemporaryDirectory(prefix="hugbox-compat-") as home:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGBOX_"))},
            "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": hub.token, "HF_HOME": home,
            "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "COMPAT_USER": "alice", "COMPAT_MODEL": "alice/compat-model",
            "COMPAT_WEIGHTS_SHA": hub.weights_sha, "COMPAT_DATASET": "alice/compat-data",
        }  # fmt: skip
        script = Path(__file__).with_name("scenarios.py")
        done = subprocess.run([str(python), str(script), scenario], env=env, capture_output=True,
                              text=True, timeout=900, check=False)  # fmt: skip
    if done.returncode == 0:
        return "ok"
    lines = done.stderr.strip().splitlines() or [f"exit {done.returncode}"]
    return lines[-1][:200]


def run_matrix(envs: list[Env]) -> dict[str, dict[str, str]]:
    results: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="hugbox-compat-hub-") as data:
        data_dir = Path(data)
        run_cli(data_dir, "user", "create", "alice", "--password", "compat-pw")
        # Space builds keep their wheels between runs (gradio downloads once).
        uv_cache = os.environ.get("HUGBOX_SPACES_UV_CACHE", str(CACHE / "spaces-uv"))
        with running_hub(data_dir, env={"HUGBOX_SPACES_UV_CACHE": uv_cache}) as endpoint:
            hub = seed(endpoint, data_dir)
            for env in envs:
                python = venv_python(env)
                results[env.name] = {}
                for scenario in env.scenarios:
                    started = time.monotonic()
                    results[env.name][scenario] = run_cell(python, scenario, hub)
                    outcome = results[env.name][scenario]
                    log(f"{env.name} / {scenario}: {outcome} ({time.monotonic() - started:.0f} s)")
    return results


def versions(python: Path) -> str:
    """`huggingface_hub 2.4.0, hf_xet 1.8.0, …` as installed in the venv."""
    code = (
        "import importlib.metadata as m\n"
        "for p in ('huggingface_hub', 'hf_xet', 'transformers', 'datasets', 'openai',\n"
        "          'gradio_client'):\n"
        "    try: print(p, m.version(p))\n"
        "    except m.PackageNotFoundError: pass\n"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return ", ".join(line for line in done.stdout.splitlines() if line)


def table(results: dict[str, dict[str, str]], installed: dict[str, str]) -> str:
    """The generated page: one row per env, one column per scenario."""
    head = ["client (versions installed)", *SCENARIOS]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    notes = []
    for env in ENVS:
        row = [f"{env.name} ({installed.get(env.name, 'not run')})"]
        for scenario in SCENARIOS:
            outcome = results.get(env.name, {}).get(scenario)
            if scenario not in env.scenarios:
                row.append("–")
            elif outcome is None:
                row.append("not run")
            elif outcome == "ok":
                row.append("✅")
            else:
                notes.append(f"{len(notes) + 1}. {env.name}, {scenario}: {outcome}")
                row.append(f"❌ ({len(notes)})")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + ("\n\n" + "\n".join(notes) if notes else "") + "\n"


HEADER = """# Client compatibility

Generated by `make compat` (compat/matrix.py) on {date}: each client version in a venv of its
own against a live hugbox, each cell a real scenario (compat/scenarios.py). ✅ passed, ❌
failed (the reason is listed under the table), – not applicable to that client, "not run"
left out of the last run (`--only`).
A test checks that this table lists every client and scenario of the matrix.

"""


def write(results: dict[str, dict[str, str]], installed: dict[str, str]) -> None:
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    DOC.write_text(HEADER.format(date=date) + table(results, installed))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=[e.name for e in ENVS])
    parser.add_argument("--no-write", action="store_true", help="print, leave the docs alone")
    args = parser.parse_args()
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # seeding talks through the hub client too
    envs = [e for e in ENVS if not args.only or e.name in args.only]
    results = run_matrix(envs)
    installed = {e.name: versions(venv_python(e)) for e in envs}
    print(table(results, installed))
    if not args.no_write:
        write(results, installed)
    failed = sum(o != "ok" for cells in results.values() for o in cells.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
