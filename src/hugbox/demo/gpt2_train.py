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
BLOCK_SIZE = 128
BATCH_SIZE = 8
PEAK_LR = 2e-3
MIN_LR_RATIO = 0.1
WARMUP_STEPS = 30
EVAL_BLOCKS = 64


@dataclass(frozen=True)
class TrainingReport:
    """What happened in one training run, for the model card."""

    steps: int
    tokens_seen: int
    seconds: float
    corpus_tokens: int
    train_loss: float
    eval_loss: float


def pack_blocks(documents: Sequence[Sequence[int]], eos_id: int, block_size: int) -> torch.Tensor:
    """Concatenate token lists, each ended by `eos_id`, and cut them into full blocks."""
    import torch

    flat = [token for document in documents for token in (*document, eos_id)]
    count = len(flat) // block_size
    return torch.tensor(flat[: count * block_size], dtype=torch.long).view(count, block_size)


def learning_rate(step: int, progress: float) -> float:
    """Linear warm-up by step, then cosine decay by the fraction of the time budget used."""
    if step < WARMUP_STEPS:
        return PEAK_LR * (step + 1) / WARMUP_STEPS
    cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return PEAK_LR * (MIN_LR_RATIO + (1 - MIN_LR_RATIO) * cosine)


def causal_lm_loss(model: GPT2LMHeadModel, batch: torch.Tensor) -> torch.Tensor:
    """Return next-token cross-entropy of `batch` under `model`."""
    import torch.nn.functional as F

    # Calling the body and head directly skips transformers' generic loss wrapper, which costs
    # ~20 % here because the 50,257-way softmax dominates a model this small.
    hidden = model.transformer(input_ids=batch[:, :-1]).last_hidden_state
    logits = model.lm_head(hidden)
    return F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())


def evaluate(model: GPT2LMHeadModel, blocks: torch.Tensor) -> float:
    """Return the mean loss on held-out blocks."""
    import torch

    model.train(False)
    with torch.no_grad():
        starts = range(0, len(blocks), BATCH_SIZE)
        losses = [causal_lm_loss(model, blocks[i : i + BATCH_SIZE]).item() for i in starts]
    model.train()
    return sum(losses) / len(losses)


def train(model: GPT2LMHeadModel, blocks: torch.Tensor, budget_s: float) -> TrainingReport:
    """Train on shuffled `blocks` until `budget_s` seconds have passed; hold some out to score."""
    import torch

    generator = torch.Generator().manual_seed(SEED)
    shuffled = blocks[torch.randperm(len(blocks), generator=generator)]
    held_out, train_blocks = shuffled[:EVAL_BLOCKS], shuffled[EVAL_BLOCKS:]
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=PEAK_LR, betas=(0.9, 0.95), weight_decay=0.01
    )
    model.train()
    started, step, recent = time.monotonic(), 0, list[float]()
    # Checked once per step, so the run ends at most one step (~1 s on 2 cores) past the budget.
    while (elapsed := time.monotonic() - started) < budget_s:
        start = (step * BATCH_SIZE) % max(len(train_blocks) - BATCH_SIZE, 1)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, elapsed / budget_s)
        loss = causal_lm_loss(model, train_blocks[start : start + BATCH_SIZE])
        # Tensor.backward is unannotated in torch's stubs.
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        recent = [*recent[-19:], loss.item()]
        step += 1
        if step % 25 == 0:
            logger.info("step %d, %.0f s, loss %.3f", step, elapsed, recent[-1])
    seconds = time.monotonic() - started
    return TrainingReport(
        steps=step,
        tokens_seen=step * BATCH_SIZE * (BLOCK_SIZE - 1),
        seconds=round(seconds, 1),
        corpus_tokens=blocks.numel(),
        train_loss=round(sum(recent) / len(recent), 3) if recent else math.nan,
        eval_loss=round(evaluate(model, held_out), 3),
    )
