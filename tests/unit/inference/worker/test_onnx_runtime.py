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


def _row_model(path: Path) -> Path:
    """A graph whose output row i is input row i plus its mask, as floats: [batch, sequence]."""
    from onnx import TensorProto, helper, save

    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
              for name in ("input_ids", "attention_mask")]  # fmt: skip
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", "sequence"])
    nodes = [
        helper.make_node("Add", ["input_ids", "attention_mask"], ["sum"]),
        helper.make_node("Cast", ["sum"], ["output"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(nodes, "rows", inputs, [output])
    opsets = [helper.make_opsetid("", 17)]
    save(helper.make_model(graph, opset_imports=opsets, ir_version=8), path)  # ORT reads <= 13
    return path


@pytest.mark.parametrize("rows", [1, 2, 5, 32])
def test_a_batch_split_across_threads_comes_back_whole_and_in_order(
    tmp_path: Path, rows: int
) -> None:
    from transformers.modeling_outputs import BaseModelOutput

    path = _row_model(tmp_path / "rows.onnx")
    ids = torch.arange(rows * 7).reshape(rows, 7)
    mask = torch.ones_like(ids)
    for threads in (1, 2, 3):
        model = onnx_runtime.OrtModel(None, path, threads, BaseModelOutput, "last_hidden_state")
        got = model(input_ids=ids, attention_mask=mask, token_type_ids=mask).last_hidden_state
        assert torch.equal(got, (ids + 1).float()), threads
