"""`validate-yaml` and `agent-harnesses`, which every client process calls."""

from fastapi.testclient import TestClient


def test_valid_card(client: TestClient) -> None:
    response = client.post("/api/validate-yaml", json={"content": "---\nlicense: mit\n---\n# x"})
    assert response.status_code == 200
    assert response.json() == {"errors": [], "warnings": []}


def test_card_without_metadata_warns(client: TestClient) -> None:
    response = client.post("/api/validate-yaml", json={"content": "# title only"})
    assert response.status_code == 200
    assert (
        response.json()["warnings"][0]["message"] == "empty or missing yaml metadata in repo card"
    )


def test_invalid_metadata_is_400_json(client: TestClient) -> None:
    response = client.post("/api/validate-yaml", json={"content": "---\nmodel-index: foo\n---\n"})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"message": '"model-index" must be an array'}]


def test_broken_yaml_is_400_json(client: TestClient) -> None:
    response = client.post("/api/validate-yaml", json={"content": "---\na: [b\n---\n"})
    assert response.status_code == 400
    assert response.json()["errors"]


def test_agent_harnesses(client: TestClient) -> None:
    assert client.get("/api/agent-harnesses").json() == {"standardEnvVars": [], "harnesses": {}}
