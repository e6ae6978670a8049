"""Legacy ids without a namespace are rewritten wherever a repo id stands in a URL."""

import pytest

from hugbox.repos.legacy import LegacyIds

TABLE = {("models", "gpt2"): "openai-community/gpt2", ("datasets", "squad"): "rajpurkar/squad"}


@pytest.fixture
def legacy() -> LegacyIds:
    ids = LegacyIds(lambda: dict(TABLE))
    ids.reload()
    return ids


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/models/gpt2", "/api/models/openai-community/gpt2"),
        ("/api/models/GPT2/revision/main", "/api/models/openai-community/gpt2/revision/main"),
        ("/gpt2/resolve/main/config.json", "/openai-community/gpt2/resolve/main/config.json"),
        ("/gpt2.git/info/lfs/objects/batch", "/openai-community/gpt2.git/info/lfs/objects/batch"),
        ("/datasets/squad/resolve/main/x", "/datasets/rajpurkar/squad/resolve/main/x"),
        ("/api/datasets/squad/tree/main", "/api/datasets/rajpurkar/squad/tree/main"),
    ],
)
def test_legacy_ids_are_rewritten(legacy: LegacyIds, path: str, expected: str) -> None:
    assert legacy.rewrite(path) == expected


@pytest.mark.parametrize(
    "path",
    ["/api/models/alice/gpt2", "/alice/gpt2/resolve/main/x", "/api/datasets/gpt2",
     "/squad/resolve/main/x", "/api/whoami-v2", "/gpt2x/resolve/main/a"],
)  # fmt: skip
def test_other_paths_are_untouched(legacy: LegacyIds, path: str) -> None:
    assert legacy.rewrite(path) == path


def test_table_reloads_when_stale() -> None:
    calls = []
    ids = LegacyIds(lambda: calls.append(1) or {}, ttl=0.0)
    assert ids.stale()
    ids.reload()
    assert calls == [1]
    assert ids.stale()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/models/gpt2", "/models/openai-community/gpt2"),
        ("/models/gpt2@abc123", "/models/openai-community/gpt2@abc123"),
        ("/models/gpt2/v1/chat/completions", "/models/openai-community/gpt2/v1/chat/completions"),
        ("/pipeline/text-generation/gpt2", "/pipeline/text-generation/openai-community/gpt2"),
        ("/models/alice/gpt2", "/models/alice/gpt2"),
    ],
)
def test_inference_routes_use_legacy_ids(legacy: LegacyIds, path: str, expected: str) -> None:
    assert legacy.rewrite(path) == expected
