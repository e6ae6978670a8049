"""Exports a model folder's encoder to ONNX, in a process of its own:
`python -m hugbox.inference.worker.onnx_export MODEL_DIR CLASS_NAME OUTPUT`.

A separate process because torch.export patches global state while it traces, which a worker
answering requests on the same model must not see, and because its memory is given back when it
ends. torch's torch.export-based exporter (onnxscript) is used: the TorchScript one bakes
transformers 5's attention-mask branches into the graph and answers wrong for padded batches.
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from pathlib import Path
from typing import Any

# Two texts of different lengths: the traced batch has padding, so the mask path is the real one.
SAMPLE_TEXTS = ["An example sentence to trace.", "A longer example sentence, traced with padding."]


def export(model_dir: Path, class_name: str, output: Path) -> None:
    """Write `class_name`'s first output (hidden states or logits) as an ONNX graph to `output`,
    dynamic in batch and sequence length, inputs named as the tokenizer names them."""
    import torch
    import transformers

    model = getattr(transformers, class_name).from_pretrained(model_dir).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    sample = dict(tokenizer(SAMPLE_TEXTS, padding=True, truncation=True, max_length=16,
                            return_tensors="pt"))  # fmt: skip
    names = [name for name in sample if name in _forward_parameters(model)]
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    program = torch.onnx.export(
        _FirstOutput(model, names),
        tuple(sample[name] for name in names),
        input_names=names,
        output_names=["output"],
        # One entry: forward's `*inputs`, one spec per input.
        dynamic_shapes=(tuple({0: batch, 1: sequence} for _ in names),),
        dynamo=True,
        optimize=True,
        verbose=False,
    )
    if program is None:  # only the TorchScript exporter returns nothing
        raise RuntimeError("torch.onnx.export returned no program")
    program.save(str(output))


def _forward_parameters(model: Any) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)


class _FirstOutput:
    """The model called with keyword inputs in `names`' order, returning its first output."""

    def __new__(cls, model: Any, names: list[str]) -> Any:
        import torch

        class FirstOutput(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *inputs: Any) -> Any:
                return self.model(**dict(zip(names, inputs, strict=True)))[0]

        return FirstOutput()


def main(argv: list[str]) -> int:
    model_dir, class_name, output = argv
    # The exporter reports progress on stdout and warns freely; only a failure matters here.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        export(Path(model_dir), class_name, Path(output))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
