"""picklescan's verdicts in HF's vocabulary, and the safetensors header check."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
from collections import OrderedDict

import numpy as np
import torch
from safetensors.torch import save

from hugbox.scanning import scanner


class RunsAShell:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo owned",))


def verdict(data: bytes, path: str) -> scanner.Verdict:
    return scanner.scan(io.BytesIO(data), path, len(data))


def test_a_pickle_that_runs_a_shell_is_unsafe_with_its_import() -> None:
    found = verdict(pickle.dumps(RunsAShell()), "model.pkl")
    assert found.status == "unsafe"
    assert {"module": "posix", "name": "system", "safety": "dangerous"} in found.imports


def test_a_torch_checkpoint_of_tensors_is_safe() -> None:
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(2)}, buffer)
    found = verdict(buffer.getvalue(), "pytorch_model.bin")
    assert found.status == "safe"
    assert {i["safety"] for i in found.imports} == {"innocuous"}
    assert {"module": "collections", "name": "OrderedDict", "safety": "innocuous"} in found.imports


def test_an_evil_pickle_inside_a_torch_zip_is_found() -> None:
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(2), "x": RunsAShell()}, buffer)
    assert verdict(buffer.getvalue(), "pytorch_model.bin").status == "unsafe"


def test_numpy_object_arrays_are_scanned() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([OrderedDict(a=1)], dtype=object), allow_pickle=True)
    found = verdict(buffer.getvalue(), "data.npy")
    assert found.status == "safe"
    assert found.imports


def test_safetensors_with_a_sound_header_is_safe() -> None:
    assert verdict(save({"w": torch.zeros(3)}), "model.safetensors").status == "safe"


def _safetensors(header: dict[str, object], data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def test_safetensors_headers_that_lie_are_errors() -> None:
    cases = {
        "header length past the end of the file": struct.pack("<Q", 10**9) + b"{}",
        "header is not JSON": struct.pack("<Q", 3) + b"{{{",
        "outside the file": _safetensors({"w": {"dtype": "F32", "shape": [4],
                                                "data_offsets": [0, 16]}}, b"\0" * 8),
        "overlap": _safetensors({"a": {"data_offsets": [0, 8]}, "b": {"data_offsets": [4, 8]}},
                                b"\0" * 8),
        "no valid data_offsets": _safetensors({"a": {"data_offsets": "x"}}, b""),
    }  # fmt: skip
    for problem, data in cases.items():
        found = verdict(data, "m.safetensors")
        assert found.status == "error"
        assert found.message is not None and problem in found.message


def test_only_pickle_bearing_and_safetensors_files_are_scanned() -> None:
    assert scanner.scanned("a/pytorch_model.BIN")
    assert scanner.scanned("x.safetensors")
    assert not scanner.scanned("config.json")
    assert scanner.worst(["safe", "unsafe", "queued"]) == "unsafe"
    assert scanner.worst([]) == "unscanned"


def test_a_flat_pickle_is_scanned_without_reading_its_tensor_bytes() -> None:
    import tracemalloc

    big = pickle.dumps([np.zeros(32 * 1024 * 1024, dtype=np.uint8), RunsAShell()], protocol=4)
    tracemalloc.start()
    found = verdict(big, "training_args.bin")  # not a torch file, whatever its name
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert found.status == "unsafe"  # the import after the 32 MiB argument is still seen
    assert {"module": "posix", "name": "system", "safety": "dangerous"} in found.imports
    assert peak < 8 * 1024 * 1024  # the argument was skipped, not read into memory


def test_legacy_torch_checkpoints_are_scanned() -> None:
    for payload, expected in (({"w": torch.zeros(2)}, "safe"), ({"x": RunsAShell()}, "unsafe")):
        buffer = io.BytesIO()
        torch.save(payload, buffer, _use_new_zipfile_serialization=False)
        assert verdict(buffer.getvalue(), "old.pt").status == expected


def test_a_large_member_of_a_zip_is_read_for_real() -> None:
    """A torch zip whose pickle is bigger than what flat pickles skip is still scanned whole."""
    buffer = io.BytesIO()
    torch.save({f"k{i}": "x" * 64 for i in range(40_000)} | {"z": RunsAShell()}, buffer)
    assert verdict(buffer.getvalue(), "pytorch_model.bin").status == "unsafe"
