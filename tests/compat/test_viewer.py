"""The dataset viewer API (HF's datasets-server) against a live hub: datasets uploaded with
huggingface_hub in every supported format, converted in the background, then browsed, searched
and filtered over HTTP; access rules, injection attempts, a crash mid-conversion, and
`load_dataset(..., revision="refs/convert/parquet")` reading the export."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import Dataset, Features, Value, load_dataset
from datasets import Image as HfImage
from huggingface_hub import HfApi, hf_hub_download
from PIL import Image
from sqlalchemy import select

from hugbox.db import Database
from hugbox.jobs.models import Job, JobStatus
from hugbox.settings import Settings
from support import Hub, _wait_ready, create_token, free_port, run_cli, unique
from testdb import data_dir_env

pytestmark = pytest.mark.compat

SERVER = "/datasets-server"
PAGE = {"config": "default", "split": "train"}


def _get(hub: Hub, path: str, token: str | None = None, **params: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{hub.endpoint}{SERVER}/{path}", params=params, headers=headers, timeout=30)


def _wait(hub: Hub, repo_id: str, token: str | None = None, timeout: float = 120) -> httpx.Response:
    """/splits once the conversion is done (it answers 503 ResponseNotReady until then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = _get(hub, "splits", token or hub.alice, dataset=repo_id)
        if response.status_code != 503:
            return response
        assert response.headers["x-error-code"] == "ResponseNotReady"
        time.sleep(0.3)
    raise AssertionError(f"{repo_id} was not converted within {timeout} s")


def _ready(hub: Hub, path: str, token: str | None = None, **params: Any) -> httpx.Response:
    """An endpoint whose index is built in the background (search, filter): retried on 503."""
    for _ in range(200):
        response = _get(hub, path, token or hub.alice, **params)
        if response.status_code != 503:
            return response
        time.sleep(0.2)
    raise AssertionError(f"{path} stayed not ready")


def _upload(hub: Hub, folder: Path, *, private: bool = False, namespace: str = "alice") -> str:
    repo_id = f"{namespace}/{unique('viewer')}"
    api = HfApi(endpoint=hub.endpoint, token=hub.alice)
    api.create_repo(repo_id, repo_type="dataset", private=private)
    api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=folder)
    return repo_id


def _rows(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [r["row"] for r in response.json()["rows"]]


@pytest.fixture(autouse=True)
def no_crash(hub: Hub) -> Iterator[None]:
    log = hub.data_dir / "server.log"
    start = log.stat().st_size
    yield
    with log.open("rb") as handle:
        handle.seek(start)
        assert b"unhandled error" not in handle.read()


@pytest.fixture(scope="module")
def numbers(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> str:
    """250 rows of csv: text, an int label and a float score."""
    folder = tmp_path_factory.mktemp("numbers")
    lines = ["text,label,score"] + [
        f"row {i} {'zebra' if i == 123 else 'plain'} text,{i % 5},{i / 10}" for i in range(250)
    ]
    (folder / "train.csv").write_text("\n".join(lines) + "\n")
    repo_id = _upload(hub, folder)
    assert _wait(hub, repo_id).status_code == 200
    return repo_id


def test_splits_rows_and_first_rows(hub: Hub, numbers: str) -> None:
    splits = _get(hub, "splits", hub.alice, dataset=numbers)
    assert splits.json() == {
        "splits": [{"dataset": numbers, "config": "default", "split": "train"}],
        "pending": [],
        "failed": [],
    }
    assert splits.headers["x-revision"] == HfApi(token=hub.alice).dataset_info(numbers).sha

    first = _get(hub, "first-rows", hub.alice, dataset=numbers, **PAGE).json()
    assert [f["name"] for f in first["features"]] == ["text", "label", "score"]
    assert first["features"][1]["type"] == {"dtype": "int64", "_type": "Value"}
    assert len(first["rows"]) == 100 and first["truncated"] is True

    page = _get(hub, "rows", hub.alice, dataset=numbers, offset=245, length=10, **PAGE).json()
    assert page["num_rows_total"] == 250 and page["num_rows_per_page"] == 100
    assert page["partial"] is False
    assert [r["row_idx"] for r in page["rows"]] == [245, 246, 247, 248, 249]
    assert page["rows"][0]["row"] == {"text": "row 245 plain text", "label": 0, "score": 24.5}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"config": "default"}, "MissingRequiredParameter"),
        ({**PAGE, "length": 101}, "InvalidParameter"),
        ({**PAGE, "offset": -1}, "InvalidParameter"),
        ({**PAGE, "offset": "x"}, "InvalidParameter"),
    ],
)
def test_bad_parameters_are_422(hub: Hub, numbers: str, params: dict[str, Any], code: str) -> None:
    response = _get(hub, "rows", hub.alice, dataset=numbers, **params)
    assert response.status_code == 422
    assert response.headers["x-error-code"] == code


def test_unknown_split_is_404(hub: Hub, numbers: str) -> None:
    response = _get(hub, "rows", hub.alice, dataset=numbers, config="default", split="nope")
    assert response.status_code == 404
    assert response.headers["x-error-code"] == "ResponseNotFound"


def test_parquet_info_size_statistics(hub: Hub, numbers: str) -> None:
    parquet = _get(hub, "parquet", hub.alice, dataset=numbers).json()
    [file] = parquet["parquet_files"]
    assert file["url"].endswith("/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet")
    assert parquet["partial"] is False and parquet["pending"] == [] and parquet["failed"] == []
    content = httpx.get(file["url"], headers={"authorization": f"Bearer {hub.alice}"}).content
    assert len(content) == file["size"]
    table = pq.read_table(io.BytesIO(content))
    assert table.num_rows == 250
    metadata = pq.ParquetFile(io.BytesIO(content)).metadata
    assert metadata.num_row_groups >= 1 and metadata.row_group(0).num_rows <= 10_000

    info = _get(hub, "info", hub.alice, dataset=numbers).json()
    assert info["dataset_info"]["default"]["splits"]["train"]["num_examples"] == 250
    assert info["partial"] is False and info["pending"] == [] and info["failed"] == []
    size = _get(hub, "size", hub.alice, dataset=numbers).json()["size"]
    assert size["dataset"]["num_rows"] == 250 and size["splits"][0]["num_columns"] == 3

    stats = _get(hub, "statistics", hub.alice, dataset=numbers, **PAGE).json()
    assert stats["num_examples"] == 250
    by_name = {s["column_name"]: s for s in stats["statistics"]}
    assert by_name["label"]["column_type"] == "int"
    score = by_name["score"]["column_statistics"]
    assert (score["min"], score["max"], score["nan_count"]) == (0.0, 24.9, 0)
    assert sum(score["histogram"]["hist"]) == 250
    assert by_name["text"]["column_type"] == "string_text"


def test_search_finds_a_rare_term(hub: Hub, numbers: str) -> None:
    found = _ready(hub, "search", dataset=numbers, query="zebra", **PAGE).json()
    assert found["num_rows_total"] == 1
    assert [r["row_idx"] for r in found["rows"]] == [123]
    assert found["rows"][0]["row"]["text"] == "row 123 zebra text"
    nothing = _ready(hub, "search", dataset=numbers, query='"; DROP TABLE data', **PAGE).json()
    assert nothing["num_rows_total"] == 0


def test_filter_and_orderby(hub: Hub, numbers: str) -> None:
    params = {"where": '"label" = 3 AND score >= 20', "orderby": '"score" DESC', "length": 3}
    found = _ready(hub, "filter", dataset=numbers, **PAGE, **params).json()
    assert found["num_rows_total"] == 10
    assert [r["row_idx"] for r in found["rows"]] == [248, 243, 238]
    texts = _ready(hub, "filter", dataset=numbers, where="text LIKE '%zebra%'", **PAGE).json()
    assert [r["row_idx"] for r in texts["rows"]] == [123]


INJECTIONS = [
    {"where": "label = 1; DROP TABLE data"},
    {"where": "label = 1 -- comment"},
    {"where": "label = 1 /* x */"},
    {"where": "label = 1 OR 1=1"},
    {"where": "label = (SELECT 1)"},
    {"where": "label = 1 UNION SELECT * FROM sqlite_master"},
    {"where": "sqlite_version() = 1"},
    {"where": '"nope" = 1'},
    {"where": "label = '1' ''"},
    {"where": "label == 1"},
    {"orderby": "label; DELETE FROM data"},
    {"orderby": "(SELECT 1)"},
    {"orderby": "label DESC, random()"},
]


@pytest.mark.parametrize("params", INJECTIONS)
def test_injection_is_rejected(hub: Hub, numbers: str, params: dict[str, str]) -> None:
    response = _ready(hub, "filter", dataset=numbers, **PAGE, **params)
    assert response.status_code == 422, response.text
    assert response.headers["x-error-code"] == "InvalidParameter"
    still = _ready(hub, "filter", dataset=numbers, where="label = 1", **PAGE).json()
    assert still["num_rows_total"] == 50


def test_datasets_server_host(hub: Hub, numbers: str) -> None:
    host = "datasets-server." + hub.endpoint.removeprefix("http://")
    response = httpx.get(
        f"{hub.endpoint}/is-valid",
        params={"dataset": numbers},
        headers={"host": host, "authorization": f"Bearer {hub.alice}"},
    )
    assert response.json() == {
        "preview": True,
        "viewer": True,
        "search": True,
        "filter": True,
        "statistics": True,
    }


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


FORMATS = {
    "jsonl": lambda f: _write(f, "data/train.jsonl", '{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n'),
    "json": lambda f: _write(f, "train.json", '[{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]'),
    "tsv": lambda f: _write(f, "train.tsv", "a\tb\n1\tx\n2\ty\n"),
    "parquet": lambda f: pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), f / "t.parquet"),
    "text": lambda f: _write(f, "train.txt", "1 x\n2 y\n"),
}


@pytest.mark.parametrize("kind", list(FORMATS))
def test_formats(hub: Hub, tmp_path: Path, kind: str) -> None:
    FORMATS[kind](tmp_path)
    repo_id = _upload(hub, tmp_path)
    assert _wait(hub, repo_id).status_code == 200
    rows = _rows(_get(hub, "rows", hub.alice, dataset=repo_id, **PAGE))
    expected = (
        [{"text": "1 x"}, {"text": "2 y"}]
        if kind == "text"
        else [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    )
    assert rows == expected


def test_images_keep_their_bytes(hub: Hub, tmp_path: Path) -> None:
    for i, color in enumerate(["red", "blue"]):
        path = tmp_path / "train" / f"img{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.new("RGB", (8 + i, 6), color).save(path)
    repo_id = _upload(hub, tmp_path)
    assert _wait(hub, repo_id).status_code == 200
    first = _get(hub, "first-rows", hub.alice, dataset=repo_id, **PAGE).json()
    assert first["features"][0]["type"] == {"_type": "Image"}
    cell = first["rows"][1]["row"]["image"]
    assert (cell["width"], cell["height"]) == (9, 6)
    image = httpx.get(cell["src"], headers={"authorization": f"Bearer {hub.alice}"})
    assert image.status_code == 200
    assert Image.open(io.BytesIO(image.content)).size == (9, 6)
    assert httpx.get(cell["src"]).status_code == 200  # a public dataset's assets are public

    loaded = load_dataset(repo_id, revision="refs/convert/parquet", split="train")
    assert loaded[1]["image"].size == (9, 6)


SIZES = {"red": (8, 6), "blue": (20, 5)}


def _imagefolder(folder: Path) -> None:
    for color, size in SIZES.items():
        Image.new("RGB", size, color).save(folder / f"{color}.png")
    captions = [{"file_name": f"{color}.png", "caption": f"a {color} box"} for color in SIZES]
    _write(folder, "metadata.jsonl", "".join(json.dumps(c) + "\n" for c in captions))


def _image_parquet(folder: Path) -> None:
    """What `Dataset.push_to_hub` writes: an Image feature stored as {bytes, path}."""
    images = []
    for color, size in SIZES.items():
        Image.new("RGB", size, color).save(buffer := io.BytesIO(), format="PNG")
        images.append({"bytes": buffer.getvalue(), "path": None})
    features = Features({"image": HfImage(), "caption": Value("string")})
    captions = [f"a {color} box" for color in SIZES]
    table = Dataset.from_dict({"image": images, "caption": captions}, features=features)
    table.to_parquet(str(folder / "train.parquet"))


@pytest.mark.parametrize("build", [_imagefolder, _image_parquet])
def test_image_cells_carry_their_size_on_every_route(
    hub: Hub, tmp_path: Path, build: Callable[[Path], None]
) -> None:
    build(tmp_path)
    repo_id = _upload(hub, tmp_path)
    assert _wait(hub, repo_id).status_code == 200
    answers = {
        "first-rows": _get(hub, "first-rows", dataset=repo_id, **PAGE),
        "rows": _get(hub, "rows", dataset=repo_id, **PAGE, offset=0, length=10),
        "search": _ready(hub, "search", dataset=repo_id, query="blue", **PAGE),
        "filter": _ready(hub, "filter", dataset=repo_id, where="caption LIKE '%blue%'", **PAGE),
    }
    for route, answer in answers.items():
        rows = _rows(answer)
        assert rows, route
        for row in rows:
            cell = row["image"]
            assert set(cell) == {"src", "height", "width"}, route
            expected = SIZES["blue" if "blue" in row["caption"] else "red"]
            assert (cell["width"], cell["height"]) == expected, route


MULTI = """---
configs:
- config_name: numbers
  data_files:
  - split: train
    path: numbers/train.csv
  - split: test
    path: numbers/test.csv
- config_name: letters
  data_files: letters/*.csv
---
"""


def test_readme_configs(hub: Hub, tmp_path: Path) -> None:
    _write(tmp_path, "README.md", MULTI)
    _write(tmp_path, "numbers/train.csv", "n\n1\n2\n3\n")
    _write(tmp_path, "numbers/test.csv", "n\n4\n")
    _write(tmp_path, "letters/all.csv", "l\na\nb\n")
    repo_id = _upload(hub, tmp_path)
    listed = _wait(hub, repo_id).json()["splits"]
    assert {(s["config"], s["split"]) for s in listed} == {
        ("numbers", "train"),
        ("numbers", "test"),
        ("letters", "train"),
    }
    test = _get(hub, "rows", hub.alice, dataset=repo_id, config="numbers", split="test")
    assert _rows(test) == [{"n": 4}]
    letters = _get(hub, "rows", hub.alice, dataset=repo_id, config="letters", split="train")
    assert _rows(letters) == [{"l": "a"}, {"l": "b"}]
    only = _get(hub, "splits", hub.alice, dataset=repo_id, config="numbers").json()["splits"]
    assert {s["split"] for s in only} == {"train", "test"}
    assert set(_get(hub, "info", hub.alice, dataset=repo_id).json()["dataset_info"]) == {
        "numbers",
        "letters",
    }


def test_malformed_csv_gives_a_clear_error(hub: Hub, tmp_path: Path) -> None:
    _write(tmp_path, "train.csv", 'a,b\n1,2\n3,"unclosed\n4,5,6,7\n')
    _write(tmp_path, "notes.txt", "the rest of the repo is fine\n")
    repo_id = _upload(hub, tmp_path)
    response = _wait(hub, repo_id)
    assert response.status_code == 500
    assert response.headers["x-error-code"].startswith("Dataset")
    assert response.json()["error"]
    valid = _get(hub, "is-valid", hub.alice, dataset=repo_id).json()
    assert valid["viewer"] is False and valid["preview"] is False
    assert valid["error"]["error_code"] == response.headers["x-error-code"]
    path = hf_hub_download(repo_id, "notes.txt", repo_type="dataset", token=hub.alice)
    assert Path(path).read_text() == "the rest of the repo is fine\n"


def test_disabled_viewer(hub: Hub, tmp_path: Path) -> None:
    _write(tmp_path, "README.md", "---\nviewer: false\n---\n")
    _write(tmp_path, "train.csv", "a\n1\n")
    repo_id = _upload(hub, tmp_path)
    response = _wait(hub, repo_id)
    assert response.status_code == 501
    assert response.headers["x-error-code"] == "NotSupportedDisabledViewerError"


@pytest.fixture(scope="module")
def private_sets(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("private")
    _write(folder, "train.csv", "a\n1\n2\n")
    found = {
        "alice": _upload(hub, folder, private=True),
        "acme": _upload(hub, folder, private=True, namespace="acme"),
    }
    for repo_id in found.values():
        assert _wait(hub, repo_id).status_code == 200
    return found


@pytest.mark.parametrize(
    ("owner", "who", "status", "code"),
    [
        ("alice", "alice", 200, None),
        ("alice", "alice_read", 200, None),
        ("alice", "bob", 404, "ExternalAuthenticatedError"),
        ("alice", None, 401, "ExternalUnauthenticatedError"),
        ("alice", "hf_not_a_token", 401, "ExternalUnauthenticatedError"),
        ("acme", "bob", 200, None),  # a read member of the org
        ("acme", "carol", 200, None),
    ],
)
def test_private_dataset_tokens(
    hub: Hub,
    private_sets: dict[str, str],
    owner: str,
    who: str | None,
    status: int,
    code: str | None,
) -> None:
    token = getattr(hub, who) if who in ("alice", "alice_read", "bob", "carol") else who
    for path, params in [("rows", PAGE), ("splits", {}), ("is-valid", {}), ("parquet", {})]:
        response = _get(hub, path, token, dataset=private_sets[owner], **params)
        assert response.status_code == status, (path, response.text)
        assert response.headers.get("x-error-code") == code


def test_gated_dataset_needs_a_grant(hub: Hub, tmp_path: Path) -> None:
    _write(tmp_path, "train.csv", "a\n1\n")
    repo_id = _upload(hub, tmp_path)
    HfApi(endpoint=hub.endpoint, token=hub.alice).update_repo_settings(
        repo_id, repo_type="dataset", gated="auto"
    )
    assert _wait(hub, repo_id).status_code == 200  # the owner
    denied = _get(hub, "rows", hub.bob, dataset=repo_id, **PAGE)
    assert (denied.status_code, denied.headers["x-error-code"]) == (
        404,
        "ExternalAuthenticatedError",
    )
    assert _get(hub, "rows", None, dataset=repo_id, **PAGE).status_code == 401
    asked = httpx.post(
        f"{hub.endpoint}/api/datasets/{repo_id}/ask-access",
        headers={"authorization": f"Bearer {hub.bob}"},
    )
    assert asked.status_code == 200, asked.text
    assert _rows(_get(hub, "rows", hub.bob, dataset=repo_id, **PAGE)) == [{"a": 1}]


def test_missing_dataset(hub: Hub) -> None:
    assert _get(hub, "splits", hub.alice, dataset="alice/nope").status_code == 404
    assert _get(hub, "splits", None, dataset="alice/nope").status_code == 401
    assert _get(hub, "splits", hub.alice).headers["x-error-code"] == "MissingRequiredParameter"


def test_load_dataset_reads_the_parquet_export(hub: Hub, numbers: str) -> None:
    loaded = load_dataset(numbers, revision="refs/convert/parquet", split="train")
    assert loaded.num_rows == 250
    assert loaded[123] == {"text": "row 123 zebra text", "label": 3, "score": 12.3}


def test_new_commit_is_converted_again(hub: Hub, tmp_path: Path) -> None:
    _write(tmp_path, "train.csv", "a\n1\n")
    repo_id = _upload(hub, tmp_path)
    first = _wait(hub, repo_id).headers["x-revision"]
    HfApi(token=hub.alice).upload_file(
        path_or_fileobj=b"a\n1\n2\n",
        path_in_repo="train.csv",
        repo_id=repo_id,
        repo_type="dataset",
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = _get(hub, "rows", hub.alice, dataset=repo_id, **PAGE)
        if response.status_code == 200 and response.headers["x-revision"] != first:
            break
        time.sleep(0.3)
    assert _rows(response) == [{"a": 1}, {"a": 2}]


def test_git_push_is_converted(hub: Hub, tmp_path: Path) -> None:
    repo_id = f"alice/{unique('viewer-git')}"
    HfApi(endpoint=hub.endpoint, token=hub.alice).create_repo(repo_id, repo_type="dataset")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    host = hub.endpoint.removeprefix("http://")
    work = tmp_path / "clone"

    def git(*args: str, cwd: Path | None = work) -> None:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    git("clone", f"http://user:{hub.alice}@{host}/datasets/{repo_id}", str(work), cwd=None)
    (work / "train.jsonl").write_text('{"pushed": "by git"}\n')
    git("add", "train.jsonl")
    git("-c", "user.name=Alice", "-c", "user.email=a@example.com", "commit", "-qm", "data")
    git("push", "origin", "main")
    assert _wait(hub, repo_id).status_code == 200
    assert _rows(_get(hub, "rows", hub.alice, dataset=repo_id, **PAGE)) == [{"pushed": "by git"}]


def test_cli_status_and_rebuild(hub: Hub, numbers: str) -> None:
    rebuilt = hub.cli("viewer", "rebuild", numbers, "--now")
    assert rebuilt.returncode == 0, rebuilt.stderr
    deadline = time.monotonic() + 60
    while True:  # the hub's own workers may have taken some of the jobs: wait for them
        status = hub.cli("viewer", "status", numbers, "--format", "json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        if all(j["status"] == "done" for j in report["jobs"]) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert report["export"]["status"] == "ok" and report["export"]["current"] is True
    assert report["export"]["configs"][0]["splits"][0]["num_rows"] == 250
    assert {j["status"] for j in report["jobs"]} == {"done"}
    assert {j["kind"] for j in report["jobs"]} == {"viewer.convert", "viewer.index"}
    text = hub.cli("viewer", "status", numbers)
    assert "default/train: 250 rows" in text.stdout
    assert hub.cli("viewer", "status", "alice/nope").returncode == 1


@contextmanager
def _serving(data_dir: Path, port: int, env: dict[str, str], *, crash: bool) -> Iterator[str]:
    """`hugbox serve` for the block; ended with SIGKILL (`crash`) or SIGTERM."""
    command = [
        sys.executable,
        "-m",
        "hugbox",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--log-level",
        "info",
    ]
    with (data_dir / f"server-{time.monotonic_ns()}.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_ready(process, f"http://127.0.0.1:{port}")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.send_signal(signal.SIGKILL if crash else signal.SIGTERM)
            process.wait()


def _job_status(data_dir: Path, repo_id: str) -> list[dict[str, Any]]:
    result = run_cli(data_dir, "viewer", "status", repo_id, "--format", "json")
    return list(json.loads(result.stdout)["jobs"]) if result.returncode == 0 else []


def _wait_for_running_conversion(data_dir: Path) -> None:
    """Until the conversion job runs, read from the database every 50 ms: a `viewer status` call
    takes about a second, long enough for the conversion to end unseen and the index job after
    it to be the one seen running."""
    url = data_dir_env(data_dir).get("HUGBOX_DATABASE_URL")
    database = Database(url or Settings(data_dir=data_dir).sqlalchemy_url)
    query = select(Job.status).where(Job.kind == "viewer.convert")
    deadline = time.monotonic() + 60
    try:
        while True:
            with database.session() as session:
                if session.scalar(query) == JobStatus.RUNNING:
                    return
            assert time.monotonic() < deadline, "the conversion never started"
            time.sleep(0.05)
    finally:
        database.close()


@pytest.mark.slow
def test_conversion_survives_a_crash(tmp_path: Path) -> None:
    """A server killed mid-conversion leaves its job `running`; the next one runs it again."""
    data_dir, data = tmp_path / "hub", tmp_path / "big"
    data_dir.mkdir()
    data.mkdir()
    assert run_cli(data_dir, "user", "create", "alice", "--password", "pw").returncode == 0
    token = create_token(data_dir, "alice", "write")
    with (data / "train.csv").open("w") as handle:
        handle.write("text,n\n")
        handle.writelines(f"some longer line of text number {i},{i}\n" for i in range(400_000))
    port = free_port()
    env = {**os.environ, "HUGBOX_JOB_STALE_AFTER": "2"}
    endpoint = f"http://127.0.0.1:{port}"
    repo_id = f"alice/{unique('viewer-crash')}"
    with _serving(data_dir, port, env, crash=True):
        api = HfApi(endpoint=endpoint, token=token)
        api.create_repo(repo_id, repo_type="dataset")
        api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=data)
        _wait_for_running_conversion(data_dir)
    [job] = [j for j in _job_status(data_dir, repo_id) if j["kind"] == "viewer.convert"]
    with _serving(data_dir, port, env, crash=False):
        deadline = time.monotonic() + 180
        params = {"dataset": repo_id, **PAGE, "offset": 399_999, "length": 1}
        while True:
            response = httpx.get(
                f"{endpoint}{SERVER}/rows",
                params=params,
                headers={"authorization": f"Bearer {token}"},
            )
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert job["status"] == "running", job
    assert response.status_code == 200, response.text
    assert response.json()["rows"][0]["row"] == {
        "text": "some longer line of text number 399999",
        "n": 399_999,
    }
