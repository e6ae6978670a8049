"""Train a small GPT-2-architecture model from scratch for a fixed wall-clock budget on CPU."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from transformers import GPT2LMHeadModel

logger = logging.getLogger(__name__)

SEED = 0
HELD_OUT_EVERY = 50  # every 50th document is held out: never trained on, scored after
EVAL_BLOCK_SIZE = 128  # held-out text is scored in blocks of one size whatever the recipe
EVAL_BATCH_SIZE = 16


@dataclass(frozen=True)
class Recipe:
    """A model's shape and how it is trained: the demo builds one, the benchmark compares two."""

    n_layer: int
    n_embd: int
    n_head: int
    block_size: int
    batch_size: int
    peak_lr: float
    seconds: float  # the wall-clock budget; the run stops on time, not on a step count
    warmup_steps: int = 30
    min_lr_ratio: float = 0.1
    n_positions: int = 1024
    # Train with a sampled softmax over this many negatives (0: the full softmax). The output
    # layer dominates the cost of a full step, so this multiplies the text a run can see.
    negatives: int = 0

    def learning_rate(self, step: int, progress: float) -> float:
        """Linear warm-up by step, then cosine decay by the fraction of the time budget used."""
        if step < self.warmup_steps:
            return self.peak_lr * (step + 1) / self.warmup_steps
        cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        return self.peak_lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * cosine)


@dataclass(frozen=True)
class TrainingReport:
    """What happened in one training run, for the model card."""

    steps: int
    tokens_seen: int
    seconds: float
    corpus_tokens: int
    train_loss: float
    eval_loss: float


def split_documents(
    documents: Sequence[Sequence[int]],
) -> tuple[list[Sequence[int]], list[Sequence[int]]]:
    """Return (training, held-out) documents; whole documents are held out, so no scored text
    was seen in training, whatever the block size."""
    held_out = [doc for i, doc in enumerate(documents) if i % HELD_OUT_EVERY == 0]
    training = [doc for i, doc in enumerate(documents) if i % HELD_OUT_EVERY != 0]
    return training, held_out


def pack_blocks(documents: Sequence[Sequence[int]], eos_id: int, block_size: int) -> torch.Tensor:
    """Concatenate token lists, each ended by `eos_id`, and cut them into full blocks."""
    import torch

    flat = [token for document in documents for token in (*document, eos_id)]
    count = len(flat) // block_size
    return torch.tensor(flat[: count * block_size], dtype=torch.long).view(count, block_size)


@dataclass(frozen=True)
class Sampler:
    """Draws the negatives of a sampled softmax from the corpus's unigram counts (to the power
    0.75, so rare words still come up), and knows each token's log expected count per draw."""

    counts: torch.Tensor  # per token id of the full vocabulary
    probs: torch.Tensor
    log_expected: torch.Tensor  # log of each id's expected count in one draw of `size`
    size: int

    @classmethod
    def of(cls, blocks: torch.Tensor, vocab_size: int, size: int) -> Sampler:
        import torch

        counts = torch.bincount(blocks.flatten(), minlength=vocab_size)
        weights = counts.double() ** 0.75
        probs = (weights / weights.sum()).float()
        return cls(counts=counts, probs=probs, log_expected=torch.log(probs * size), size=size)

    def draw(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Return `size` token ids, and the log of the expected count of each id in a draw."""
        import torch

        ids = torch.multinomial(self.probs, self.size, replacement=True, generator=generator)
        return ids, self.log_expected


def causal_lm_loss(model: GPT2LMHeadModel, batch: torch.Tensor) -> torch.Tensor:
    """Return next-token cross-entropy of `batch` under `model`, over the whole vocabulary."""
    import torch.nn.functional as F

    # Calling the body and head directly skips transformers' generic loss wrapper, which costs
    # ~20 % here because the 50,257-way softmax dominates a model this small.
    hidden = model.transformer(input_ids=batch[:, :-1]).last_hidden_state
    logits = model.lm_head(hidden)
    return F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())


def sampled_lm_loss(
    model: GPT2LMHeadModel, batch: torch.Tensor, sampler: Sampler, generator: torch.Generator
) -> torch.Tensor:
    """Estimate the next-token loss from each target against a few thousand sampled negatives
    instead of all 50,257 token types (Jean et al., 2015): the logits are corrected by the log
    of each token's expected count, so the estimate stays close to the full softmax while a
    training step costs a fraction of it."""
    import torch
    import torch.nn.functional as F

    hidden = model.transformer(input_ids=batch[:, :-1]).last_hidden_state.flatten(0, 1)
    targets = batch[:, 1:].flatten()
    negatives, log_expected = sampler.draw(generator)
    weight = model.lm_head.weight
    true_logits = (hidden * weight[targets]).sum(dim=-1) - log_expected[targets]
    sampled_logits = hidden @ weight[negatives].T - log_expected[negatives]
    # A negative that happens to be the target must not count against it.
    sampled_logits = sampled_logits.masked_fill(negatives[None, :] == targets[:, None], -1e9)
    logits = torch.cat([true_logits[:, None], sampled_logits], dim=1)
    return F.cross_entropy(logits, torch.zeros_like(targets))


def give_unseen_tokens_rare_rows(model: GPT2LMHeadModel, counts: torch.Tensor) -> None:
    """Token types the training never scored keep their random rows, which would draw as much
    probability as an average word; give them the mean row of the tokens seen once, which the
    training taught to be unlikely."""
    import torch

    seen_once = counts == 1
    if not seen_once.any():
        return
    weight = model.transformer.wte.weight  # tied with the output layer
    with torch.no_grad():
        weight[counts == 0] = weight[seen_once].mean(dim=0)


def evaluate(model: GPT2LMHeadModel, blocks: torch.Tensor) -> float:
    """Return the mean next-token loss on `blocks` (its exp is the perplexity)."""
    import torch

    model.train(False)
    with torch.no_grad():
        starts = range(0, len(blocks), EVAL_BATCH_SIZE)
        losses = [causal_lm_loss(model, blocks[i : i + EVAL_BATCH_SIZE]) for i in starts]
        sizes = [len(blocks[i : i + EVAL_BATCH_SIZE]) for i in starts]
    model.train()
    return sum(loss.item() * size for loss, size in zip(losses, sizes, strict=True)) / sum(sizes)


def train(
    model: GPT2LMHeadModel,
    documents: Sequence[Sequence[int]],
    *,
    eos_id: int,
    recipe: Recipe,
) -> TrainingReport:
    """Train on the training documents, shuffled in blocks, until the recipe's time is up; then
    score the held-out documents."""
    import torch

    training, held_out = split_documents(documents)
    blocks = pack_blocks(training, eos_id, recipe.block_size)
    generator = torch.Generator().manual_seed(SEED)
    blocks = blocks[torch.randperm(len(blocks), generator=generator)]
    sampler = Sampler.of(blocks, model.config.vocab_size, recipe.negatives)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=recipe.peak_lr, betas=(0.9, 0.95), weight_decay=0.01
    )
    model.train()
    started, step, recent = time.monotonic(), 0, list[float]()
    # Checked once per step, so the run ends at most one step (~1 s on 2 cores) past the budget.
    while (elapsed := time.monotonic() - started) < recipe.seconds:
        start = (step * recipe.batch_size) % max(len(blocks) - recipe.batch_size, 1)
        for group in optimizer.param_groups:
            group["lr"] = recipe.learning_rate(step, elapsed / recipe.seconds)
        batch = blocks[start : start + recipe.batch_size]
        if recipe.negatives:
            loss = sampled_lm_loss(model, batch, sampler, generator)
        else:
            loss = causal_lm_loss(model, batch)
        # Tensor.backward is unannotated in torch's stubs.
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        recent = [*recent[-19:], loss.item()]
        step += 1
        if step % 200 == 0:
            logger.info("step %d, %.0f s, loss %.3f", step, elapsed, recent[-1])
    seconds = time.monotonic() - started
    if recipe.negatives:
        give_unseen_tokens_rare_rows(model, sampler.counts)
    return TrainingReport(
        steps=step,
        tokens_seen=step * recipe.batch_size * (recipe.block_size - 1),
        seconds=round(seconds, 1),
        corpus_tokens=blocks.numel(),
        train_loss=round(sum(recent) / len(recent), 3) if recent else math.nan,
        eval_loss=round(evaluate(model, pack_blocks(held_out, eos_id, EVAL_BLOCK_SIZE)), 3),
    )
