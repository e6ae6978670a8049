"""The in-process side of the inference benchmark, run in a child interpreter so the harness
never imports torch: `python bench/inference_local.py MODE ARGS.json` prints one JSON object.

Modes: `encoder` (fp32 GEMM rate, batched and single-sentence embedding passes), `generate`
(text-generation one prompt after another, and as one left-padded batch), `naive-server` (a
minimal Starlette app that calls `pipeline(...)` once per request; it serves until stopped),
`random-gpt2` (a stand-in for the demo's GPT-2 folder).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

GEMM_SHAPE = (512, 384, 1536)  # MiniLM's feed-forward matmul at batch 32 x 16 tokens
BATCH = 32


def _rate(step: Callable[[Any], int], items: list[Any], seconds: float) -> float:
    """Units per second of `step` cycling through `items` for about `seconds` (after warm-up)."""
    step(items[0])
    done, index = 0, 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or done == 0:
        done += step(items[index % len(items)])
        index += 1
    return done / elapsed


def gemm_flops(seconds: float) -> float:
    """Best of three windows of fp32 `torch.mm` at GEMM_SHAPE, in FLOP/s."""
    import torch

    m, k, n = GEMM_SHAPE
    a, b = torch.randn(m, k), torch.randn(k, n)

    def mm(_: object) -> int:
        torch.mm(a, b)
        return 2 * m * k * n

    return max(_rate(mm, [None], seconds / 3) for _ in range(3))


def _embedder(model_dir: str) -> tuple[Any, Callable[[list[str]], list[list[float]]]]:
    """Tokenizer + model + mean pooling + L2 norm: what a sentence-transformers model does."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()

    def embed(texts: list[str]) -> list[list[float]]:
        encoded = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        vectors: list[list[float]] = torch.nn.functional.normalize(pooled, dim=1).tolist()
        return vectors

    return (tokenizer, model), embed


def encoder(args: dict[str, Any]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args["threads"])
    (tokenizer, model), embed = _embedder(args["model_dir"])
    sentences: list[str] = args["sentences"]
    batches = [sentences[i : i + BATCH] for i in range(0, len(sentences), BATCH)]
    batched = _rate(lambda batch: len(embed(batch)), batches, args["seconds"])
    single = []
    for _ in range(args["single_calls"]):
        started = time.perf_counter()
        embed([args["single"]])
        single.append(time.perf_counter() - started)
    linear = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Linear)]
    return {
        "batched_per_s": batched,
        "single_median_s": statistics.median(single[1:]),
        "tokens_per_sentence": statistics.mean(len(ids) for ids in tokenizer(sentences).input_ids),
        "padded_tokens_per_sentence": statistics.mean(
            tokenizer(batch, padding=True, return_tensors="pt").input_ids.shape[1]
            for batch in batches
        ),
        "linear_params": sum(m.weight.numel() for m in linear),
        "gemm_flops": gemm_flops(min(3.0, args["seconds"])),
    }


def generate(args: dict[str, Any]) -> dict[str, Any]:
    """The prompts one after another through the pipeline (the baseline), then as one batch."""
    import torch
    from transformers import pipeline

    torch.set_num_threads(args["threads"])
    pipe: Any = pipeline("text-generation", model=args["model_dir"], device="cpu")
    prompts: list[str] = args["prompts"]
    kwargs = args["kwargs"]
    pipe(prompts[0], **kwargs)  # warm-up
    sequential, texts = [], []
    for _ in range(args["rounds"]):
        started = time.perf_counter()
        texts = [pipe(prompt, **kwargs)[0]["generated_text"] for prompt in prompts]
        sequential.append(time.perf_counter() - started)
    new_tokens = sum(_new_tokens(pipe, prompt, kwargs) for prompt in prompts)
    return {
        "sequential_s": statistics.median(sequential),
        "batched_s": _batched_generation(pipe, prompts, kwargs, args["rounds"]),
        "new_tokens": new_tokens,
        "texts": texts,
    }


def _new_tokens(pipe: Any, prompt: str, kwargs: dict[str, Any]) -> int:
    options = {k: v for k, v in kwargs.items() if k != "return_full_text"}
    [out] = pipe(prompt, **options, return_tensors=True)
    return len(out["generated_token_ids"]) - len(pipe.tokenizer(prompt).input_ids)


def _batched_generation(
    pipe: Any, prompts: list[str], kwargs: dict[str, Any], rounds: int
) -> float:
    """What batching in the worker would buy: all prompts as one left-padded generate call."""
    pipe.tokenizer.padding_side = "left"
    if pipe.tokenizer.pad_token_id is None:
        pipe.tokenizer.pad_token = pipe.tokenizer.eos_token
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        pipe(prompts, batch_size=len(prompts), **kwargs)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def naive_server(args: dict[str, Any]) -> dict[str, Any]:
    """One pipeline call per request, in Starlette's thread pool; serves until terminated."""
    import numpy as np
    import torch
    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from transformers import pipeline

    torch.set_num_threads(args["threads"])
    pipe: Any = pipeline("feature-extraction", model=args["model_dir"], device="cpu")

    def embed(text: str) -> list[float]:
        tokens = np.asarray(pipe(text)[0])  # [tokens][hidden] for one string
        mean = tokens.mean(axis=0)
        vector: list[float] = (mean / np.linalg.norm(mean)).tolist()
        return vector

    async def run(request: Request) -> JSONResponse:
        body = await request.json()
        if args.get("serial"):  # one call at a time, on the event loop
            return JSONResponse(embed(body["inputs"]))
        return JSONResponse(await run_in_threadpool(embed, body["inputs"]))

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/embed", run, methods=["POST"]), Route("/health", health)])
    uvicorn.run(app, host="127.0.0.1", port=args["port"], log_level="warning", workers=1)
    return {}


def random_gpt2(args: dict[str, Any]) -> dict[str, Any]:
    """A GPT-2 of the demo's size with random weights, for when the demo's folder is not built:
    4 layers, 128 wide, vocabulary 50257; a small byte-level BPE trained on the prompts."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    eos = "<|endoftext|>"
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=1000, special_tokens=[eos], initial_alphabet=alphabet, show_progress=False
    )
    bpe.train_from_iterator(args["texts"], trainer=trainer)
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe, bos_token=eos, eos_token=eos)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=50257, n_layer=4, n_embd=128, n_head=4)
    GPT2LMHeadModel(config).save_pretrained(args["folder"])
    tokenizer.save_pretrained(args["folder"])
    card = "---\nlibrary_name: transformers\npipeline_tag: text-generation\n---\n# random GPT-2\n"
    (Path(args["folder"]) / "README.md").write_text(card)
    return {}


MODES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "encoder": encoder,
    "generate": generate,
    "naive-server": naive_server,
    "random-gpt2": random_gpt2,
}

if __name__ == "__main__":
    mode, path = sys.argv[1:]
    with Path(path).open() as handle:  # a file, not argv: the sentence list outgrows one argument
        print(json.dumps(MODES[mode](json.load(handle))))
