"""Which dtype a worker loads a model in: the checkpoint's, read from its config, unless the
operator or the CPU says otherwise. The live hub's side: tests/compat/test_inference_dtype.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hugbox.inference.worker import precision
from hugbox.settings import InferenceDtype


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ('{"dtype": "bfloat16"}', "bfloat16"),
        ('{"torch_dtype": "float16"}', "float16"),  # transformers 4's key
        ('{"model_type": "bert"}', None),
        ("[1, 2]", None),
        ("{broken", None),
    ],
)
def test_the_checkpoint_dtype_comes_from_its_config(
    tmp_path: Path, config: str, expected: str | None
) -> None:
    (tmp_path / "config.json").write_text(config)
    assert precision.checkpoint_dtype(tmp_path) == expected


def test_float32_checkpoints_load_as_saved_and_the_operator_can_force_either_way(
    tmp_path: Path,
) -> None:
    (tmp_path / "config.json").write_text('{"dtype": "float32"}')
    assert precision.load_dtype(tmp_path, InferenceDtype.AUTO) == "auto"
    (tmp_path / "config.json").write_text('{"dtype": "bfloat16"}')
    assert precision.load_dtype(tmp_path, InferenceDtype.CHECKPOINT) == "auto"
    assert precision.load_dtype(tmp_path, InferenceDtype.FLOAT32) is torch.float32
    native = "bfloat16" in precision.native_half_precision()
    expected = "auto" if native else torch.float32  # this CPU's own answer
    assert precision.load_dtype(tmp_path, InferenceDtype.AUTO) == expected
