"""The dtype a model worker computes in on this machine's CPU.

transformers loads a checkpoint in the dtype it was saved in (`dtype="auto"`), and most recent
checkpoints are bfloat16. A CPU without bf16 instructions (no AVX512-BF16 or AMX: every AVX2
machine) runs them through conversions around each matmul: SmolLM2-135M, 8 concurrent
generations, on an AVX2 EPYC core, 17 tokens/s in bf16 against 37 in float32. So by default a
half-precision checkpoint is computed in float32 where the CPU has no kernels for its dtype,
which costs twice the weights' memory and rounds nothing away (the upcast is exact).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hugbox.inference.presets import json_object
from hugbox.settings import InferenceDtype

log = logging.getLogger(__name__)


def checkpoint_dtype(model_dir: Path) -> str | None:
    """The dtype config.json says the weights were saved in (`dtype`, or transformers 4's
    `torch_dtype`), or None when it does not say."""
    config = json_object(model_dir / "config.json")
    value = config.get("dtype") or config.get("torch_dtype")
    return value if isinstance(value, str) else None


def native_half_precision() -> frozenset[str]:
    """The half-precision dtypes this CPU has matmul instructions for."""
    import torch

    native = set()
    if torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported():
        native.add("bfloat16")
    if torch.cpu._is_amx_fp16_supported():
        native.add("float16")
    return frozenset(native)


def load_dtype(model_dir: Path, precision: InferenceDtype) -> Any:
    """What to pass as `dtype` to transformers' loaders for `model_dir`."""
    if precision is InferenceDtype.CHECKPOINT:
        return "auto"
    import torch

    if precision is InferenceDtype.FLOAT32:
        return torch.float32
    saved = checkpoint_dtype(model_dir)
    if saved in ("bfloat16", "float16") and saved not in native_half_precision():
        log.info("%s: computing in float32, this CPU has no %s kernels", model_dir.name, saved)
        return torch.float32
    return "auto"
