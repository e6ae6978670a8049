"""Running a hosted model: from a repo at a revision to the HF-shaped answer of its pipeline."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from hugbox.inference import presets, snapshot, tasks
from hugbox.inference.cache import ResponseCache
from hugbox.inference.errors import InferenceInputError, ModelFailed, ModelTooLarge
from hugbox.inference.executor import Executor, ModelKey
from hugbox.inference.worker.generation import Generated
from hugbox.inference.worker.process import Job, Outcome
from hugbox.repos import content, indexer
from hugbox.repos.models import Repo
from hugbox.repos.store import RepoStore
from hugbox.storage import git

_WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


@dataclass(frozen=True)
class Target:
    """A model at one commit, ready to load: where its files are and what it is."""

    repo_id: str
    sha: str
    model_dir: Path
    pipeline_tag: str | None
    sentence_transformers: bool
    normalizes: bool  # its sentence-transformers modules end with a Normalize step
    weights_bytes: int
    # What its own files say text generation does by default (see `presets`).
    generation_presets: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    content: bytes  # the JSON answer, encoded once: sent as is, and cached as is
    compute_seconds: float  # in the executor: waiting, loading, running
    inference_seconds: float = 0.0  # in the worker: the batch that ran it
    cache: str | None = None  # "HIT" or "MISS" for a deterministic call, else None

    @property
    def body(self) -> Any:
        return orjson.loads(self.content)


@dataclass(frozen=True)
class ModelFacts:
    """What a model's commit says about it, read from git without loading anything."""

    repo_id: str
    sha: str
    pipeline_tag: str | None
    library_name: str | None
    config: dict[str, Any] | None
    weights_bytes: int


@dataclass(frozen=True)
class ModelStatus:
    """The classic `/status/{id}` answer: is the model loaded, and could it be."""

    loaded: bool
    state: str  # "Loaded", "Loadable" or "TooBig"
    framework: str


def model_facts(store: RepoStore, repo: Repo, *, revision: str) -> ModelFacts:
    gitrepo = store.open(repo)
    return _facts(gitrepo, repo, content.resolve_revision(gitrepo, revision))


def _facts(gitrepo: git.Repository, repo: Repo, commit: git.Commit) -> ModelFacts:
    described = indexer.describe(gitrepo, repo.type, commit)
    return ModelFacts(
        repo_id=repo.repo_id,
        sha=str(commit.id),
        pipeline_tag=described.snapshot.pipeline_tag,
        library_name=described.snapshot.library_name,
        config=described.snapshot.config,
        weights_bytes=sum(f.size for f in described.files if f.path.endswith(_WEIGHTS)),
    )


def target_for(
    store: RepoStore, repo: Repo, *, revision: str, snapshots_dir: Path, max_model_bytes: int
) -> Target:
    gitrepo = store.open(repo)
    commit = content.resolve_revision(gitrepo, revision)
    facts = _facts(gitrepo, repo, commit)
    if facts.weights_bytes > max_model_bytes:
        raise ModelTooLarge(repo.repo_id, facts.weights_bytes, max_model_bytes)
    model_dir = snapshot.materialize(store, gitrepo, commit, snapshots_dir)
    return Target(
        repo_id=repo.repo_id,
        sha=facts.sha,
        model_dir=model_dir,
        pipeline_tag=facts.pipeline_tag,
        sentence_transformers=facts.library_name == "sentence-transformers"
        or (model_dir / "modules.json").is_file(),
        normalizes=_normalizes(model_dir / "modules.json"),
        weights_bytes=facts.weights_bytes,
        generation_presets=presets.text_generation_presets(model_dir),
    )


def model_status(facts: ModelFacts, *, loaded: list[ModelKey], max_model_bytes: int) -> ModelStatus:
    """`loaded` is what the executor holds; a model counts at this commit only."""
    is_loaded = any(k.repo_id == facts.repo_id and k.model_dir.name == facts.sha for k in loaded)
    if is_loaded:
        state = "Loaded"
    elif facts.weights_bytes > max_model_bytes:
        state = "TooBig"
    else:
        state = "Loadable"
    return ModelStatus(is_loaded, state, facts.library_name or "transformers")


def _normalizes(modules_json: Path) -> bool:
    try:
        modules = json.loads(modules_json.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(modules, list) and any(
        isinstance(m, dict) and str(m.get("type", "")).endswith("Normalize") for m in modules
    )


async def infer(
    executor: Executor,
    target: Target,
    body: dict[str, Any],
    *,
    forced_task: str | None,
    wait_for_model: bool | None,
    cache: ResponseCache | None = None,
    use_cache: bool = True,
) -> Answer:
    """Run `body` on `target`. A deterministic call is answered from `cache` when it holds the
    answer and `use_cache` allows; a fresh answer always replaces the cached one."""
    call = _prepare(target, body, forced_task)
    cache_key = tasks.cache_key(target.sha, call) if cache is not None else None
    if cache is not None and cache_key is not None and use_cache:
        cached = cache.get(cache_key)
        if cached is not None:
            return Answer(cached, 0.0, cache="HIT")
    key = ModelKey(target.repo_id, target.model_dir, call.task, target.weights_bytes)
    started = time.perf_counter()
    outcome = await executor.run(key, _job(executor, target, call), wait_for_model=wait_for_model)
    elapsed = time.perf_counter() - started
    content = orjson.dumps(tasks.shape_output(call, result_of(outcome)))
    if cache is not None and cache_key is not None:
        cache.put(cache_key, content)
    hit = None if cache_key is None else "MISS"
    return Answer(content, elapsed, outcome.seconds, cache=hit)


def _prepare(
    target: Target, body: dict[str, Any], forced_task: str | None, *, presets: bool = True
) -> tasks.PipelineCall:
    """The call for `body`; `presets` lets the model's own generation defaults fill in what the
    request leaves out (the classic API's way; TGI's routes start from greedy instead)."""
    try:
        task = tasks.resolve_task(
            pipeline_tag=target.pipeline_tag, forced=forced_task, inputs=body.get("inputs")
        )
        return tasks.prepare_call(
            task,
            body,
            sentence_transformers=target.sentence_transformers,
            presets=target.generation_presets if presets else {},
        )
    except tasks.TaskError as exc:
        raise InferenceInputError(str(exc)) from exc


def text_generation_job(
    executor: Executor, target: Target, body: dict[str, Any], *, stream: bool, presets: bool
) -> tuple[Job, tasks.PipelineCall]:
    """TGI's `{"inputs", "parameters"}` as a generation job, with the classic route's checks and
    parameters; the call says how to present the result (`details`, `return_full_text`).
    `presets`: see `_prepare`."""
    call = _prepare(target, body, "text-generation", presets=presets)
    if stream and not isinstance(call.args[0], str):
        raise InferenceInputError("Streaming needs `inputs` to be one string")
    return _job(executor, target, call, stream=stream), call


def _job(
    executor: Executor, target: Target, call: tasks.PipelineCall, *, stream: bool = False
) -> Job:
    # `__`-keys are instructions for us, never arguments of the pipeline.
    kwargs = {k: v for k, v in call.kwargs.items() if not k.startswith("__")}
    seed = call.kwargs.get("__seed__")
    return Job(
        id=executor.next_job_id(),
        args=call.args,
        kwargs=kwargs,
        pooling=call.pooling,
        normalize=call.normalize or (call.pooling and target.normalizes),
        batchable=call.batchable,
        seed=seed if isinstance(seed, int) else None,
        generate=call.task == "text-generation",
        stream=stream,
    )


def generation_options(params: dict[str, Any]) -> dict[str, Any]:
    """OpenAI-style sampling parameters as `generate` arguments (temperature 0 = greedy)."""
    options: dict[str, Any] = {"max_new_tokens": _bounded_int(params, "max_tokens", 128)}
    temperature = params.get("temperature")
    if isinstance(temperature, (int, float)) and temperature > 0:
        options.update(do_sample=True, temperature=float(temperature))
        if isinstance(params.get("top_p"), (int, float)):
            options["top_p"] = float(params["top_p"])
    else:
        options["do_sample"] = False
    stop = params.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, list) and stop and all(isinstance(s, str) for s in stop):
        options["stop_strings"] = stop
    return options


def _bounded_int(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 4096:
        raise InferenceInputError(f"`{name}` must be an integer between 1 and 4096")
    return value


def generation_job(
    executor: Executor, prompt: str | list[dict[str, Any]], params: dict[str, Any], *, stream: bool
) -> Job:
    seed = params.get("seed")
    return Job(
        id=executor.next_job_id(),
        args=(prompt,),
        kwargs=generation_options(params),
        pooling=False,
        normalize=False,
        batchable=False,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        generate=True,
        stream=stream,
    )


def generation_key(target: Target) -> ModelKey:
    """The model to generate with: chat, completions and TGI routes need a causal LM."""
    if target.pipeline_tag not in (None, "text-generation"):
        raise InferenceInputError(
            f"{target.repo_id} is a {target.pipeline_tag} model; this route needs a "
            "text-generation model"
        )
    return ModelKey(target.repo_id, target.model_dir, "text-generation", target.weights_bytes)


def result_of(outcome: Outcome) -> Any:
    """What a finished job produced, or the error it ended with."""
    if not outcome.ok:
        error = InferenceInputError if outcome.bad_input else ModelFailed
        raise error(str(outcome.value))
    return outcome.value


def generated_of(outcome: Outcome) -> Generated:
    """The one sequence a chat, completion or streamed generation asked for."""
    sequences: list[Generated] = result_of(outcome)
    return sequences[0]
