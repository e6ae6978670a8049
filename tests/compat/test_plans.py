"""Plans and rate limits against a live hub (limits on, a plans file with a 5-second window),
driven by the stock huggingface_hub: the client waits out a spent resolver quota and completes
its download, gets its own 429 message on `model_info`, and each plan shows its own quota; the
inference allowance, whoami's plan fields, `hugbox plan`, the plan pages and `expand=`."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import httpx
import pytest
from huggingface_hub import HfApi, snapshot_download
from huggingface_hub.errors import BadRequestError, HfHubHTTPError
from huggingface_hub.hf_api import ExpandDatasetProperty_T, ExpandModelProperty_T

from support import create_token, run_cli, running_hub, unique

pytestmark = pytest.mark.compat

WINDOW = 5
PLANS = f"""
window = {WINDOW}
[plans.anonymous]
api = 40
resolvers = 100
pages = 40
inference_requests = 1
[plans.free]
api = 200
resolvers = 500
pages = 200
inference_requests = 2
[plans.tiny]
api = 3
resolvers = 100
pages = 100
[plans.downloader]
api = 100
resolvers = 3
pages = 100
[plans.pro]
tier = "pro"
api = 1000
resolvers = 1000
pages = 1000
[plans.team]
tier = "team"
api = 1500
resolvers = 1500
pages = 1500
"""
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class LimitedHub:
    endpoint: str
    data_dir: Path
    log: Path
    root: str  # site admin's write token (plan pro)
    bob: str  # free user, a member of org acme
    tiny: str  # plan tiny: 3 api requests per window
    downloader: str  # plan downloader: 3 resolver requests per window

    def cli(self, *args: str) -> str:
        result = run_cli(self.data_dir, *args)
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LimitedHub]:
    data_dir = tmp_path_factory.mktemp("plans")
    plans_file = data_dir / "plans.toml"
    plans_file.write_text(PLANS)
    env = {"HUGBOX_PLANS_FILE": str(plans_file), "HUGBOX_RATE_LIMITS": "true",
           "HUGBOX_PLAN_CACHE_TTL": "0.5", "HUGBOX_SPACES_ENABLED": "false"}  # fmt: skip
    for user in ("root", "bob", "tiny", "downloader"):
        admin = ["--admin"] if user == "root" else []
        assert run_cli(data_dir, "user", "create", user, "--password", "pw-" + user + "-pw",
                       *admin).returncode == 0  # fmt: skip
    assert run_cli(data_dir, "org", "create", "acme", "--owner", "root").returncode == 0
    assert run_cli(data_dir, "org", "add-member", "acme", "bob").returncode == 0
    tokens = {user: create_token(data_dir, user, "write") for user in ("root", "bob", "tiny",
                                                                        "downloader")}  # fmt: skip
    log = data_dir / "server.log"
    with (
        pytest.MonkeyPatch.context() as patch,  # the CLI reads the plans file as the hub does
        running_hub(data_dir, env=env, log_path=log, log_level="info") as endpoint,
    ):
        patch.setenv("HUGBOX_PLANS_FILE", str(plans_file))
        hub = LimitedHub(endpoint, data_dir, log, **tokens)
        for user, plan in (("root", "pro"), ("tiny", "tiny"), ("downloader", "downloader")):
            hub.cli("plan", "assign", user, plan)
        yield hub


def _public_model(hub: LimitedHub, files: int = 1) -> str:
    api = HfApi(endpoint=hub.endpoint, token=hub.root)
    repo_id = f"root/{unique('limits')}"
    api.create_repo(repo_id)
    for index in range(files):
        api.upload_file(path_or_fileobj=f"file {index}\n".encode(), path_in_repo=f"f{index}.txt",
                        repo_id=repo_id)  # fmt: skip
    return repo_id


def _quota(response: httpx.Response) -> tuple[str, int]:
    """The bucket and quota of `RateLimit-Policy`, checked against HF's grammar."""
    policy = re.fullmatch(r'"fixed window";"(\w+)";q=(\d+);w=(\d+)',
                          response.headers["ratelimit-policy"])  # fmt: skip
    state = re.fullmatch(r'"(\w+)";r=(\d+);t=(\d+)', response.headers["ratelimit"])
    assert policy and state and policy[1] == state[1] and int(policy[3]) == WINDOW
    assert 1 <= int(state[3]) <= WINDOW
    return policy[1], int(policy[2])


def test_each_plan_and_bucket_has_its_quota_on_every_response(limited: LimitedHub) -> None:
    repo_id = _public_model(limited)
    with httpx.Client(base_url=limited.endpoint) as client:
        assert _quota(client.get("/api/models")) == ("api", 40)
        assert _quota(client.get("/")) == ("pages", 40)
        assert _quota(client.head(f"/{repo_id}/resolve/main/f0.txt")) == ("resolvers", 100)
        bearer = {"authorization": f"Bearer {limited.bob}"}
        assert _quota(client.get("/api/models", headers=bearer)) == ("api", 200)
        bearer = {"authorization": f"Bearer {limited.root}"}
        assert _quota(client.get("/api/models", headers=bearer)) == ("api", 1000)
        assert _quota(client.get("/api/nope/x/y", headers=bearer)) == ("api", 1000)  # 404s too
        assert "ratelimit" not in client.get("/health").headers


def test_model_info_over_the_api_quota_gets_the_clients_429_message(limited: LimitedHub) -> None:
    repo_id = _public_model(limited)
    api = HfApi(endpoint=limited.endpoint, token=limited.tiny)
    with pytest.raises(HfHubHTTPError) as raised:
        for _ in range(10):  # 3 per window: the 4th within one window is refused
            api.model_info(repo_id)
    assert raised.value.response.status_code == 429
    message = str(raised.value)
    assert "you have reached your 'api' rate limit" in message
    assert re.search(rf"Retry after \d+ seconds \(0/3 requests remaining in current {WINDOW}s",
                     message)  # fmt: skip
    assert raised.value.response.headers["retry-after"].isdigit()
    # Another caller's count is its own.
    assert HfApi(endpoint=limited.endpoint, token=limited.bob).model_info(repo_id).id == repo_id


def test_snapshot_download_waits_out_the_resolver_limit_and_completes(
    limited: LimitedHub, tmp_path: Path
) -> None:
    repo_id = _public_model(limited, files=4)
    started = time.monotonic()
    folder = snapshot_download(repo_id, endpoint=limited.endpoint, token=limited.downloader,
                               cache_dir=tmp_path / "cache")  # fmt: skip
    assert sorted(p.name for p in Path(folder).iterdir()) == [
        ".gitattributes", "f0.txt", "f1.txt", "f2.txt", "f3.txt"
    ]  # fmt: skip
    assert (Path(folder) / "f3.txt").read_text() == "file 3\n"
    assert time.monotonic() - started >= 1  # it waited for a window at least once
    log = limited.log.read_text()
    assert re.search(rf"rate limited: (GET|HEAD) /{repo_id}/resolve/\S+ \(resolvers", log)


def test_inference_over_the_daily_allowance_is_a_402(limited: LimitedHub) -> None:
    """bob's plan (free) allows 2 inference requests a day: each is counted (this model does
    not exist: still a request), the third refused before any work, in HF's shape."""
    bearer = {"authorization": f"Bearer {limited.bob}"}
    with httpx.Client(base_url=limited.endpoint, headers=bearer) as client:
        for _ in range(2):
            assert client.post("/models/root/no-such-model", json={"inputs": "hi"}).status_code \
                == 404  # fmt: skip
        refused = client.post("/v1/chat/completions", json={"model": "root/no-such-model"})
        assert refused.status_code == 402
        assert "daily inference allowance" in refused.headers["x-error-message"]
        assert "daily inference allowance" in refused.json()["error"]
        assert "ratelimit" in refused.headers
        with _logged_in(limited, "bob") as page:
            usage = page.get("/settings/usage").text
        assert re.search(r"<td>Requests</td><td>2</td><td>2</td>", usage)
    # root (pro: no daily cap) is not held by bob's count.
    root = {"authorization": f"Bearer {limited.root}"}
    answer = httpx.post(f"{limited.endpoint}/models/root/no-such-model", headers=root, json={})
    assert answer.status_code == 404


def test_whoami_shows_pro_and_the_orgs_plan(limited: LimitedHub) -> None:
    me = HfApi(endpoint=limited.endpoint).whoami(token=limited.root)
    assert me["isPro"] is True
    assert [org.get("plan") for org in me["orgs"]] == [None]  # a free org: no `plan`
    limited.cli("plan", "assign", "acme", "team")
    bob = HfApi(endpoint=limited.endpoint).whoami(token=limited.bob)
    assert bob["isPro"] is False
    assert [(org["name"], org["plan"]) for org in bob["orgs"]] == [("acme", "team")]
    time.sleep(1)  # the limiter's cached plan of bob's token expires (HUGBOX_PLAN_CACHE_TTL)
    bearer = {"authorization": f"Bearer {limited.bob}"}
    response = httpx.get(f"{limited.endpoint}/api/models", headers=bearer)
    assert _quota(response) == ("api", 1500)  # an org's plan applies to each member
    assert "limited by team" in limited.cli("plan", "show", "bob")
    limited.cli("plan", "assign", "acme", "free")


def test_the_plan_cli(limited: LimitedHub) -> None:
    listed = limited.cli("plan", "list", "--format", "json")
    assert "downloader" in listed and '"tier": "pro"' in listed
    assert "plan tiny" in limited.cli("plan", "show", "tiny")
    for args in (("assign", "nobody", "pro"), ("assign", "bob", "no-such-plan"),
                 ("show", "nobody")):  # fmt: skip
        refused = run_cli(limited.data_dir, "plan", *args)
        assert refused.returncode == 1 and "error" in refused.stderr


@contextmanager
def _logged_in(hub: LimitedHub, user: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub.endpoint) as client:
        match = _CSRF.search(client.get("/login").text)
        assert match
        form = {"csrf_token": match[1], "username": user, "password": f"pw-{user}-pw"}
        assert client.post("/login", data=form).status_code == 303
        yield client


def test_plan_pages_for_admins_users_and_strangers(limited: LimitedHub) -> None:
    with httpx.Client(base_url=limited.endpoint) as stranger:
        assert stranger.get("/admin/plans").status_code == 401
        assert stranger.get("/settings/usage").status_code == 401
        assert stranger.post("/admin/plans", data={"account": "bob", "plan": "pro"}).status_code \
            == 403  # fmt: skip
        bearer = {"authorization": f"Bearer {limited.root}"}  # a token is no page session
        assert stranger.get("/admin/plans", headers=bearer).status_code == 401
    with _logged_in(limited, "bob") as bob:
        assert bob.get("/admin/plans").status_code == 403
        usage = bob.get("/settings/usage")
        assert usage.status_code == 200 and 'id="plan">free<' in usage.text
    with _logged_in(limited, "root") as root:
        page = root.get("/admin/plans")
        assert page.status_code == 200 and "downloader" in page.text
        csrf = _CSRF.search(page.text)
        assert csrf
        for account, plan, status in (("nobody", "pro", 404), ("bob", "nope", 404),
                                      ("bob", "", 404)):  # fmt: skip
            form = {"csrf_token": csrf[1], "account": account, "plan": plan}
            assert root.post("/admin/plans", data=form).status_code == status
        assert root.post("/admin/plans", data={"account": "bob", "plan": "pro"}).status_code \
            == 403  # no CSRF token  # fmt: skip


def test_expand_takes_exactly_hfs_properties(limited: LimitedHub) -> None:
    repo_id = _public_model(limited)
    api = HfApi(endpoint=limited.endpoint, token=limited.root)
    info = api.model_info(repo_id, expand=["author", "sha", "downloads"])
    assert info.author == "root" and info.sha
    with pytest.raises(BadRequestError) as raised:
        api.model_info(repo_id, expand=["author", "securityRepoStatus"])  # type: ignore[list-item]
    body = raised.value.response.json()["error"]
    assert body.startswith("✖ Invalid option: expected one of ") and body.endswith("at expand[1]")
    assert set(re.findall(r'"([^"]+)"', body)) == set(get_args(ExpandModelProperty_T))
    dataset = f"root/{unique('limits-data')}"
    api.create_repo(dataset, repo_type="dataset")
    with pytest.raises(BadRequestError) as raised:
        api.dataset_info(dataset, expand=["gguf"])  # type: ignore[list-item]
    body = raised.value.response.json()["error"]
    assert set(re.findall(r'"([^"]+)"', body)) == set(get_args(ExpandDatasetProperty_T))
    with pytest.raises(BadRequestError):
        list(api.list_models(expand=["nope"]))  # type: ignore[list-item]
    listed = list(api.list_models(author="root", expand=["author"]))
    assert listed and all(model.author == "root" for model in listed)
    missing = httpx.get(f"{limited.endpoint}/api/models/root/missing?expand=nope")
    assert missing.status_code == 401  # the repo is checked first: nothing said of it
