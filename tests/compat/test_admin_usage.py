"""The site admins' usage view against a live hub (limits on, a 3-second window), driven by the
stock huggingface_hub: two users' requests rank in order by user, org and repo; an inference
call shows up in today's inference; a user refused with a 429 is "rate limited now" until the
window ends; strangers, normal users and their tokens are refused; malformed queries get a 400
with HF's error header; and the page in a real Chromium."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from playwright.sync_api import expect, sync_playwright

from hugbox.auth import service as auth
from hugbox.auth.models import TokenRole
from hugbox.db import Database
from hugbox.plans import service as plans
from hugbox.plans.config import load_catalog
from support import cheap_password_hashing, running_hub, unique
from testdb import data_dir_env

pytestmark = pytest.mark.compat

WINDOW = 3
PLANS = f"""
window = {WINDOW}
[plans.anonymous]
api = 100
resolvers = 100
pages = 100
[plans.free]
api = 500
resolvers = 500
pages = 500
inference_requests = 5
[plans.tiny]
api = 2
resolvers = 100
pages = 100
[plans.pro]
tier = "pro"
api = 5000
resolvers = 5000
pages = 5000
"""
USERS = ("root", "alice", "bob", "tiny")
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class UsageHub:
    endpoint: str
    data_dir: Path
    tokens: dict[str, str]  # each user's write token
    bob_read: str  # a read token of bob, a normal user
    root_read: str  # a read token of root, a site admin

    def usage(self, token: str | None = None, **params: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token or self.tokens['root']}"}
        return httpx.get(f"{self.endpoint}/api/admin/usage", headers=headers, params=params)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UsageHub]:
    data_dir = tmp_path_factory.mktemp("admin-usage")
    plans_file = data_dir / "plans.toml"
    plans_file.write_text(PLANS)
    env = {"HUGBOX_PLANS_FILE": str(plans_file), "HUGBOX_RATE_LIMITS": "true",
           "HUGBOX_PLAN_CACHE_TTL": "0.5", "HUGBOX_SPACES_ENABLED": "false"}  # fmt: skip
    with running_hub(data_dir, env=env) as endpoint:
        yield _seed(endpoint, data_dir, plans_file)


def _seed(endpoint: str, data_dir: Path, plans_file: Path) -> UsageHub:
    """The accounts, in process on the hub's migrated database (a CLI process per account
    takes seconds on a busy machine): root a site admin on plan pro, tiny on plan tiny."""
    url = data_dir_env(data_dir).get("HUGBOX_DATABASE_URL") or f"sqlite:///{data_dir}/hugbox.db"
    plans.use_catalog(load_catalog(plans_file))
    database = Database(url)
    with cheap_password_hashing(), database.session() as session:
        for user in USERS:
            auth.create_user(session, name=user, password=f"pw-{user}-pw", is_admin=user == "root")
        auth.create_org(session, name="acme", owner="root")
        plans.assign_plan(session, account="root", plan="pro")
        plans.assign_plan(session, account="tiny", plan="tiny")
        tokens = {u: auth.create_token(session, user=u, name="t", role=TokenRole.WRITE)
                  for u in USERS}  # fmt: skip
        reads = [auth.create_token(session, user=u, name="r", role=TokenRole.READ)
                 for u in ("bob", "root")]  # fmt: skip
    database.close()
    plans.use_catalog(load_catalog(None))
    return UsageHub(endpoint, data_dir, tokens, *reads)


def _eventually(read: Callable[[], Any], check: Callable[[Any], bool], timeout: float = 15) -> Any:
    """`read()` once `check` holds of it (counts are written about once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if check(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def _names(rows: list[dict[str, Any]]) -> list[str]:
    return [row["name"] for row in rows]


def test_two_users_requests_rank_by_user_org_and_repo(hub: UsageHub) -> None:
    root = HfApi(endpoint=hub.endpoint, token=hub.tokens["root"])
    busy = root.create_repo(f"acme/{unique('busy')}").repo_id
    quiet = root.create_repo(f"root/{unique('quiet')}").repo_id
    for user, repo_id, times in (("bob", busy, 6), ("alice", quiet, 3)):
        api = HfApi(endpoint=hub.endpoint, token=hub.tokens[user])
        for _ in range(times):
            api.model_info(repo_id)
    httpx.get(f"{hub.endpoint}/api/models/{quiet}")  # anonymous: counted under its IP

    def counted(body: dict[str, Any]) -> bool:
        users = {row["name"]: row["today"] for row in body["requests"]["users"]}
        return users.get("bob", 0) >= 6 and users.get("alice", 0) >= 3

    body = _eventually(lambda: hub.usage().json(), counted)
    requests = body["requests"]
    users = _names(requests["users"])
    assert users.index("bob") < users.index("alice")
    bob = requests["users"][users.index("bob")]
    assert bob["today"] == bob["week"] == bob["month"] == 6
    repos = _names(requests["repos"])
    assert repos.index(f"models/{busy}") < repos.index(f"models/{quiet}")
    assert "acme" in _names(requests["orgs"])
    assert "127.0.0.1" in _names(requests["anonymous"])
    assert body["days"] == 30 and body["rateLimitsEnforced"] is True


def test_an_inference_call_shows_up_in_todays_inference(hub: UsageHub) -> None:
    """The model does not exist: the call is still metered by the allowance, as HF counts."""
    bearer = {"authorization": f"Bearer {hub.tokens['alice']}"}
    answer = httpx.post(f"{hub.endpoint}/models/root/no-such-model", headers=bearer, json={})
    assert answer.status_code == 404
    body = _eventually(
        lambda: hub.usage().json(), lambda b: "alice" in _names(b["inference"]), timeout=3
    )
    alice = next(row for row in body["inference"] if row["name"] == "alice")
    assert alice["kind"] == "user" and alice["requests"] == 1
    assert alice["computeSeconds"] >= 0


def test_a_refused_user_is_rate_limited_until_the_window_ends(hub: UsageHub) -> None:
    api = HfApi(endpoint=hub.endpoint, token=hub.tokens["tiny"])
    repo_id = (
        HfApi(endpoint=hub.endpoint, token=hub.tokens["root"])
        .create_repo(f"root/{unique('limited')}")
        .repo_id
    )
    _wait_for_a_fresh_window()
    with pytest.raises(HfHubHTTPError) as raised:
        for _ in range(5):  # 2 per window: the 3rd is refused
            api.model_info(repo_id)
    assert raised.value.response.status_code == 429
    limited = hub.usage().json()["rateLimited"]
    tiny = [row for row in limited if row["name"] == "tiny"]
    assert [(r["kind"], r["bucket"], r["refused"], r["quota"]) for r in tiny] == [
        ("user", "api", 1, 2)
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", tiny[0]["since"])
    time.sleep(WINDOW + 0.5)
    assert "tiny" not in _names(hub.usage().json()["rateLimited"])


def _wait_for_a_fresh_window() -> None:
    """At least 1.5 s of this window left: the refusal and the read land in the same one."""
    while WINDOW - time.time() % WINDOW < 1.5:
        time.sleep(0.1)


def test_strangers_normal_users_and_their_tokens_are_refused(hub: UsageHub) -> None:
    assert httpx.get(f"{hub.endpoint}/api/admin/usage").status_code == 403
    for token in (hub.tokens["bob"], hub.bob_read):
        refused = hub.usage(token)
        assert refused.status_code == 403
        assert "site admins" in refused.headers["x-error-message"]
    assert hub.usage(hub.root_read).status_code == 200  # reading is what a read token does
    assert httpx.get(f"{hub.endpoint}/admin/usage").status_code == 401
    with _logged_in(hub, "bob") as bob:
        assert bob.get("/admin/usage").status_code == 403
    with _logged_in(hub, "root") as root:
        page = root.get("/admin/usage")
        assert page.status_code == 200
        for table in ("rate-limited-now", "requests-user", "requests-org", "requests-repo",
                      "requests-ip", "inference-today", "top-user-storage"):  # fmt: skip
            assert f'id="{table}"' in page.text
        assert root.get("/admin/usage?days=7").status_code == 200
        assert root.get("/admin/usage?days=2").status_code == 400


@pytest.mark.parametrize(
    "params",
    [{"days": "abc"}, {"days": "5"}, {"days": "-1"}, {"limit": "0"}, {"limit": "101"},
     {"limit": "x"}, {"days": "9" * 40}],
)  # fmt: skip
def test_malformed_queries_get_a_400_with_hfs_error_header(
    hub: UsageHub, params: dict[str, str]
) -> None:
    answer = hub.usage(**params)
    assert answer.status_code == 400
    assert answer.headers["x-error-message"]


@contextmanager
def _logged_in(hub: UsageHub, user: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub.endpoint) as client:
        match = _CSRF.search(client.get("/login").text)
        assert match
        form = {"csrf_token": match[1], "username": user, "password": f"pw-{user}-pw"}
        assert client.post("/login", data=form).status_code == 303
        yield client


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run)")
def test_the_admin_page_in_chromium(hub: UsageHub) -> None:
    repo_id = (
        HfApi(endpoint=hub.endpoint, token=hub.tokens["root"])
        .create_repo(f"acme/{unique('seen')}")
        .repo_id
    )
    for _ in range(3):
        HfApi(endpoint=hub.endpoint, token=hub.tokens["bob"]).model_info(repo_id)
    _eventually(lambda: hub.usage().json(), lambda b: "bob" in _names(b["requests"]["users"]))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_context().new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{hub.endpoint}/login")
        page.fill("input[name=username]", "root")
        page.fill("input[name=password]", "pw-root-pw")
        page.click("button[type=submit]")
        expect(page.locator("header.top")).to_contain_text("Log out")
        page.goto(f"{hub.endpoint}/admin/usage")
        expect(page.locator("#requests-user")).to_contain_text("bob")
        expect(page.locator("#requests-repo")).to_contain_text(repo_id)
        expect(page.locator("#requests-org")).to_contain_text("acme")
        expect(page.locator("#rate-limited-now")).to_be_visible()
        expect(page.locator("#inference-today")).to_be_visible()
        page.click("text=7 days")
        expect(page).to_have_url(re.compile(r"days=7$"))
        expect(page.locator("h2#requests + p strong")).to_have_text("7 days")
        page.screenshot(path=str(ARTIFACTS / "usage-admin-requests.png"), full_page=True)
        browser.close()
