"""Every route in the OpenAPI document, fuzzed by schemathesis against a live hub of its own.

No request may get a 5xx (but a 503 saying when to retry) or go unanswered (a dropped
connection raises), and every refusal carries X-Error-Message. Destructive routes are fuzzed
too, so the hub is this module's alone; it has one repo of each type, `alice/fuzz`, which a
share of the examples aims at (random ids would only ever meet a 404), and examples are
derandomized so that a run is reproducible.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.schemas import APIOperation
from schemathesis.transport.serialization import serialize_binary

from support import create_token, run_cli, running_hub

pytestmark = pytest.mark.slow

# Per route: about 170 routes in one to four minutes on 2 cores, bounded by this count, not by
# a clock (a slow day's machine is no defect). A person digging deeper sets
# HUGBOX_FUZZ_EXAMPLES, and then gets fresh random examples on each run as well.
DIGGING = "HUGBOX_FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("HUGBOX_FUZZ_EXAMPLES", "60"))
REPO = {"namespace": "alice", "name": "fuzz"}
CSV = b"text,label\nhello,1\nworld,0\n"
CONTROL = dict.fromkeys((*range(32), *range(127, 160)))


@schemathesis.serializer(
    "application/x-ndjson",
    "application/x-git-upload-pack-request",
    "application/x-git-receive-pack-request",
)
def _raw_bytes(context: schemathesis.SerializationContext, value: Any) -> dict[str, Any]:
    """Commit payloads and git requests: sent as the bytes generated, whatever they are."""
    return {"data": serialize_binary(value)}


@dataclass(frozen=True)
class FuzzHub:
    endpoint: str
    token: str
    log: Path


@pytest.fixture(scope="module")
def fuzz_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzHub]:
    data_dir = tmp_path_factory.mktemp("fuzz-hub")
    assert run_cli(data_dir, "user", "create", "alice", "--password", "pw").returncode == 0
    token = create_token(data_dir, "alice", "write")
    log = data_dir / "server.log"
    # No spaces host: a fuzzed space would otherwise be built (minutes of CPU).
    with running_hub(data_dir, env={"HUGBOX_SPACES_ENABLED": "false"}, log_path=log) as url:
        _seed(url, token)
        yield FuzzHub(url, token, log)


def _seed(endpoint: str, token: str) -> None:
    auth = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=endpoint, headers=auth, timeout=60) as client:
        for repo_type in ("model", "dataset", "space"):
            body = {"name": "fuzz", "type": repo_type, "sdk": "static"}
            assert client.post("/api/repos/create", json=body).status_code == 200
        lines = [
            {"key": "header", "value": {"summary": "data"}},
            {"key": "file", "value": {"path": "data.csv", "encoding": "base64",
                                      "content": base64.b64encode(CSV).decode()}},
        ]  # fmt: skip
        payload = "\n".join(json.dumps(line) for line in lines).encode()
        headers = {"content-type": "application/x-ndjson"}
        response = client.post(
            "/api/datasets/alice/fuzz/commit/main", content=payload, headers=headers
        )
        assert response.status_code == 200, response.text


def _strategies(operation: APIOperation) -> list[Any]:
    """Random everything, schema-violating input, and valid input aimed at the seeded repos
    (without control characters there, which the edge refuses before any route runs)."""
    names = {parameter.name for parameter in operation.path_parameters}
    aimed = {key: value for key, value in REPO.items() if key in names}
    found = [operation.as_strategy(mode) for mode in GenerationMode]
    if aimed:
        found.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=aimed))
    if aimed and "revision" in names:
        on_main = {**aimed, "revision": "main"}
        found.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=on_main))
    return found[:2] + [strategy.map(_printable) for strategy in found[2:]]


def _printable(case: Case) -> Case:
    # Path parameters come percent-encoded; query values are encoded when sent.
    path = case.path_parameters
    decoded = _without_control(
        {k: unquote(v) if isinstance(v, str) else v for k, v in path.items()}
    )
    case.path_parameters = {
        k: quote(v, safe="") if isinstance(v, str) else v for k, v in decoded.items()
    }
    case.query = _without_control(case.query or {})
    return case


def _without_control(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.translate(CONTROL) if isinstance(v, str) else v for k, v in values.items()}


def _fuzz(operation: APIOperation, call: Callable[[Case], list[str]]) -> list[str]:
    problems: list[str] = []

    @given(case=st.one_of(_strategies(operation)))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not DIGGING,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        problems.extend(call(case))

    try:
        run()
    except requests.ConnectionError as exc:
        problems.append(f"{operation.label}: no answer: {exc}")
    return problems


def test_no_route_answers_5xx_or_nothing(fuzz_hub: FuzzHub) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_hub.endpoint}/openapi.json")
    session = requests.Session()
    headers = {"authorization": f"Bearer {fuzz_hub.token}"}

    def call(case: Case) -> list[str]:
        response = case.call(session=session, headers=headers, timeout=60)
        status, message = response.status_code, response.headers.get("x-error-message")
        # A 503 with Retry-After is the viewer's "not ready yet", which clients poll on.
        not_yet = status == 503 and "retry-after" in response.headers
        if (status >= 500 and not not_yet) or (status >= 400 and not message):
            return [f"{status} {case.method} {response.request.url} body={case.body!r:.300}"]
        return []

    operations = [result.ok() for result in schema.get_all_operations()]
    problems = [problem for operation in operations for problem in _fuzz(operation, call)]
    assert len(operations) > 150, "routes are missing from the OpenAPI document"
    assert not problems, "\n".join(problems)
    assert b"unhandled error" not in fuzz_hub.log.read_bytes()
