"""datasets against a live hub: push with `push_to_hub`, upload raw files with a YAML
`configs:` card or the `data/<split>-*.parquet` layout, then `load_dataset` them (also streaming,
also private). Everything is built in the test; nothing leaves the machine.

`Dataset.push_to_hub` preuploads each parquet shard from a temporary file and deletes that file
before `create_commit`, so shards must travel as LFS objects at preupload time: through Xet in the
hub's default mode, or through the LFS batch API. The other pushes here take the second road: a
second `hugbox serve` on the same data dir runs in `lfs` mode with the client's Xet off; the loads
go to the shared hub as usual. (In `inline` mode the shard would be "regular" and read from the
deleted file at commit time: that mode cannot serve `push_to_hub`.)
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import datasets.config
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import (
    Dataset,
    DatasetDict,
    get_dataset_config_names,
    get_dataset_split_names,
    load_dataset,
)
from datasets.exceptions import DatasetNotFoundError
from huggingface_hub import HfApi, constants

from support import Hub, running_hub

pytestmark = [
    pytest.mark.compat,
    # huggingface_hub 2.4's LFS upload (lfs.py::_upload_single_part) PUTs a file object with
    # httpx2's deprecated `data=`; the warning is theirs and fires on every non-Xet LFS upload.
    pytest.mark.filterwarnings(
        r"ignore:Use 'content=<\.\.\.>' to upload raw bytes/text content:DeprecationWarning"
    ),
]

ROWS = {"text": ["a cat", "a dog", "a bird", "a fish"], "label": [0, 1, 1, 0]}
TRAIN = {"text": ["one", "two", "three"], "label": [1, 2, 3]}
TEST = {"text": ["four", "five"], "label": [4, 5]}


def _unique(prefix: str) -> str:
    return f"alice/{prefix}-{uuid.uuid4().hex[:8]}"


def _rows(dataset: Any) -> dict[str, list[Any]]:
    """Columns of a Dataset, or of the rows an IterableDataset yields."""
    if isinstance(dataset, Dataset):
        return dataset.to_dict()
    rows = list(dataset)
    return {key: [row[key] for row in rows] for key in rows[0]} if rows else {}


@pytest.fixture(scope="module")
def lfs_endpoint(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second replica of the shared hub (same data dir) whose preupload answers "lfs"."""
    log_path = tmp_path_factory.mktemp("lfs-replica") / "server.log"
    env = {"HUGBOX_PREUPLOAD_MODE": "lfs"}
    with running_hub(hub.data_dir, env=env, log_path=log_path) as endpoint:
        yield endpoint


Pushing = Callable[[], AbstractContextManager[None]]


@pytest.fixture
def pushing(lfs_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Pushing:
    """Inside `with pushing():` this process talks as if started with HF_ENDPOINT=<replica> and
    HF_HUB_DISABLE_XET=1 (both are read once at import, so the module constants are set)."""

    @contextmanager
    def patched() -> Iterator[None]:
        with monkeypatch.context() as patch:
            patch.setattr(constants, "ENDPOINT", lfs_endpoint)
            patch.setattr(constants, "HF_HUB_DISABLE_XET", True)
            patch.setattr(datasets.config, "HF_ENDPOINT", lfs_endpoint)
            yield

    return patched


def test_push_to_hub_through_xet_in_the_default_mode(hub: Hub) -> None:
    repo_id = _unique("ds-xet")
    Dataset.from_dict(ROWS).push_to_hub(repo_id, token=hub.alice)

    assert _rows(load_dataset(repo_id)["train"]) == ROWS


def test_push_dataset_and_load_it(hub: Hub, pushing: Pushing) -> None:
    repo_id = _unique("ds-plain")
    with pushing():
        Dataset.from_dict(ROWS).push_to_hub(repo_id, token=hub.alice)

    loaded = load_dataset(repo_id)
    assert list(loaded) == ["train"]
    assert _rows(loaded["train"]) == ROWS


def test_push_dataset_dict_keeps_splits(hub: Hub, pushing: Pushing) -> None:
    repo_id = _unique("ds-splits")
    splits = DatasetDict(train=Dataset.from_dict(TRAIN), test=Dataset.from_dict(TEST))
    with pushing():
        splits.push_to_hub(repo_id, token=hub.alice)

    assert set(get_dataset_split_names(repo_id)) == {"train", "test"}
    loaded = load_dataset(repo_id)
    assert _rows(loaded["train"]) == TRAIN
    assert _rows(loaded["test"]) == TEST


def test_push_two_configs_and_load_each(hub: Hub, pushing: Pushing) -> None:
    repo_id = _unique("ds-configs")
    with pushing():
        Dataset.from_dict(TRAIN).push_to_hub(repo_id, config_name="numbers", token=hub.alice)
        Dataset.from_dict(ROWS).push_to_hub(repo_id, config_name="animals", token=hub.alice)

    assert set(get_dataset_config_names(repo_id)) == {"numbers", "animals"}
    assert _rows(load_dataset(repo_id, "numbers", split="train")) == TRAIN
    assert _rows(load_dataset(repo_id, "animals", split="train")) == ROWS


def _write_csv(path: Path, columns: dict[str, list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(zip(*columns.values(), strict=True))


def _write_parquet(path: Path, columns: dict[str, list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


# datasets picks one builder (csv, parquet, ...) per repo from the first config's files, so the
# configs of one repo share a format; each format gets its own repo.
CARD = """---
configs:
- config_name: numbers
  data_files:
  - split: train
    path: numbers/train.{ext}
  - split: test
    path: numbers/test.{ext}
- config_name: animals
  data_files:
  - split: train
    path: animals/all.{ext}
---
# Two configs declared in the card
"""
WRITERS = {"csv": _write_csv, "parquet": _write_parquet}


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_readme_configs_load_by_name(hub: Hub, tmp_path: Path, ext: str) -> None:
    repo_id = _unique(f"ds-card-{ext}")
    write = WRITERS[ext]
    write(tmp_path / "numbers" / f"train.{ext}", TRAIN)
    write(tmp_path / "numbers" / f"test.{ext}", TEST)
    write(tmp_path / "animals" / f"all.{ext}", ROWS)
    (tmp_path / "README.md").write_text(CARD.format(ext=ext))
    api = HfApi(token=hub.alice)
    api.create_repo(repo_id, repo_type="dataset")
    api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=tmp_path)

    assert set(get_dataset_config_names(repo_id)) == {"numbers", "animals"}
    numbers = load_dataset(repo_id, "numbers")
    assert set(numbers) == {"train", "test"}
    assert _rows(numbers["train"]) == TRAIN
    assert _rows(numbers["test"]) == TEST
    assert _rows(load_dataset(repo_id, "animals", split="train")) == ROWS


@pytest.fixture(scope="module")
def parquet_layout(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A dataset with no README: splits come from the `data/<split>-*.parquet` file names."""
    repo_id = _unique("ds-layout")
    folder = tmp_path_factory.mktemp("layout")
    _write_parquet(folder / "data" / "train-00000-of-00001.parquet", TRAIN)
    _write_parquet(folder / "data" / "test-00000-of-00001.parquet", TEST)
    api = HfApi(token=hub.alice)
    api.create_repo(repo_id, repo_type="dataset")
    api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=folder)
    return repo_id


def test_data_folder_layout_gives_splits(parquet_layout: str) -> None:
    loaded = load_dataset(parquet_layout)
    assert set(loaded) == {"train", "test"}
    assert _rows(loaded["train"]) == TRAIN
    assert _rows(loaded["test"]) == TEST


def test_streaming_iterates_the_same_rows(parquet_layout: str) -> None:
    streamed = load_dataset(parquet_layout, streaming=True)
    assert set(streamed) == {"train", "test"}
    assert _rows(streamed["train"]) == TRAIN
    assert _rows(streamed["test"]) == TEST


def test_streaming_csv(hub: Hub, tmp_path: Path) -> None:
    repo_id = _unique("ds-stream-csv")
    _write_csv(tmp_path / "train.csv", TRAIN)
    api = HfApi(token=hub.alice)
    api.create_repo(repo_id, repo_type="dataset")
    api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=tmp_path)

    assert _rows(load_dataset(repo_id, split="train", streaming=True)) == TRAIN


def test_private_dataset_needs_the_token(hub: Hub, pushing: Pushing) -> None:
    repo_id = _unique("ds-private")
    with pushing():
        Dataset.from_dict(ROWS).push_to_hub(repo_id, private=True, token=hub.alice)
    assert HfApi(token=hub.alice).dataset_info(repo_id).private

    for token in (None, hub.bob):
        with pytest.raises(DatasetNotFoundError):
            load_dataset(repo_id, token=token)
    assert _rows(load_dataset(repo_id, split="train", token=hub.alice)) == ROWS
    streamed = load_dataset(repo_id, split="train", streaming=True, token=hub.alice)
    assert _rows(streamed) == ROWS
