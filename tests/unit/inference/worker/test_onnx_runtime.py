"""The ONNX Runtime backend's pure parts: the README opt-in, the agreement measure, the reason
kept from a failed export. The export and the switch run on live hubs
(tests/compat/test_inference_onnx.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hugbox.inference.worker import onnx_runtime


@pytest.mark.parametrize(
    ("card", "wanted"),
    [
        ("---\ninference:\n  quantization: int8\n---\n# m\n", True),
        ("---\ninference: false\n---\n", False),
        ("---\ninference:\n  parameters: {top_k: 2}\n---\n", False),
        ("---\ninference: [\n---\n", False),  # broken metadata: no opt-in, no crash
        ("# no metadata\n", False),
    ],
)
def test_int8_is_asked_for_in_the_readme_metadata(tmp_path: Path, card: str, wanted: bool) -> None:
    (tmp_path / "README.md").write_text(card)
    assert onnx_runtime.wants_int8(tmp_path) is wanted


def test_no_readme_asks_for_nothing(tmp_path: Path) -> None:
    assert onnx_runtime.wants_int8(tmp_path) is False


def test_agreement_ignores_padding_and_reports_the_worst_text() -> None:
    expected = torch.ones(2, 3, 4)
    got = expected.clone()
    got[0, 2] = 100.0  # padding of the first text: not compared
    got[1, 0, 0] = 1.5
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]]).bool()
    cosine, diff = onnx_runtime._compare(expected, got, mask)
    assert diff == pytest.approx(0.5)
    assert 0.99 < cosine < 1.0


def test_agreement_of_logits_per_text() -> None:
    logits = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.1, 0.2]])
    cosine, diff = onnx_runtime._compare(logits, logits.clone(), torch.ones(2, 4).bool())
    assert cosine == pytest.approx(1.0)
    assert diff == 0.0


def test_a_failed_export_keeps_the_exception_not_the_advice_after_it() -> None:
    stderr = (
        "Traceback (most recent call last):\n  File x\n"
        "\x1b[96mtorch._dynamo.exc.UserError\x1b[0m: Detected mismatch\n"
        "For more information about this error, see: https://example.org\n"
    )
    assert onnx_runtime._error_line(stderr) == "torch._dynamo.exc.UserError: Detected mismatch"
    assert onnx_runtime._error_line("killed\n") == "killed"


def test_exports_live_beside_the_snapshot_keyed_by_commit(tmp_path: Path) -> None:
    folder = tmp_path / "snapshots" / ("a" * 40)
    assert onnx_runtime.cache_dir(folder) == tmp_path / "snapshots" / f"{'a' * 40}.onnx"
