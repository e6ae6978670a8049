"""Webhooks with the stock client: `HfApi`'s webhook calls against a live hub, and the payloads a
small HTTP receiver in this test gets for a commit and a settings change (field by field, and
through huggingface_hub's own `WebhookPayload`), retries, refused hosts and who sees what.

The hub here lists 127.0.0.1 in HUGBOX_WEBHOOK_ALLOWED_HOSTS (the receiver is on loopback), and
retries quickly; every other internal address stays refused."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi, WebhookPayload
from huggingface_hub.errors import HfHubHTTPError
from sqlalchemy import select

from support import create_token, run_cli, running_hub, unique
from webhook_receiver import Receiver, webhook_receiver

pytestmark = pytest.mark.compat
HEX24 = re.compile(r"[0-9a-f]{24}")
ENV = {"HUGBOX_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]', "HUGBOX_WEBHOOK_RETRY_BACKOFF": "0.2"}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as state:
        yield state


@dataclass(frozen=True)
class HookHub:
    endpoint: str
    data_dir: Path
    alice: str
    alice_read: str
    bob: str

    def api(self, token: str | None) -> HfApi:
        return HfApi(endpoint=self.endpoint, token=token or False)


@pytest.fixture(scope="module")
def hooks_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HookHub]:
    data_dir = tmp_path_factory.mktemp("hooks-hub")
    for user in ("alice", "bob"):
        assert run_cli(data_dir, "user", "create", user, "--password", "pw-" + user).returncode == 0
    tokens = {
        "alice": create_token(data_dir, "alice", "write"),
        "alice_read": create_token(data_dir, "alice", "read"),
        "bob": create_token(data_dir, "bob", "write"),
    }
    with running_hub(data_dir, env=ENV) as endpoint:
        yield HookHub(endpoint, data_dir, **tokens)


def attempts(hub: HookHub, webhook_id: str) -> list[tuple[str, list[int | None]]]:
    """(status, each attempt's HTTP status) of a webhook's deliveries, read from the hub's DB."""
    from hugbox.cli.context import operator
    from hugbox.webhooks.models import WebhookDelivery

    with pytest.MonkeyPatch.context() as patch:
        from testdb import data_dir_env

        for name, value in data_dir_env(hub.data_dir).items():
            patch.setenv(name, value)
        op = operator(hub.data_dir)
    try:
        with op.database.session() as session:
            rows = session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
            )
            return [(d.status, [a.status_code for a in d.attempts]) for d in rows]
    finally:
        op.close()


def test_a_commit_is_delivered_with_hfs_payload(hooks_hub: HookHub, receiver: Receiver) -> None:
    api = hooks_hub.api(hooks_hub.alice)
    url = receiver.hook_url()
    name = unique("hooked")
    webhook = api.create_webhook(
        url=url, watched=[{"type": "model", "name": f"alice/{name}"}], secret="s3cret"
    )
    assert HEX24.fullmatch(webhook.id) and webhook.secret is None and not webhook.disabled
    assert webhook.domains == ["repo", "discussion"]
    repo_id = api.create_repo(name).repo_id
    commit = api.upload_file(path_or_fileobj=b"hi", path_in_repo="a.txt", repo_id=repo_id)
    got = receiver.wait(url, lambda b: b["event"]["scope"] == "repo.content")
    assert got.headers["X-Webhook-Secret"] == "s3cret"
    assert got.headers["Content-Type"] == "application/json"
    body = got.body
    assert body["event"] == {"action": "update", "scope": "repo.content"}
    assert body["updatedRefs"] == [
        {"ref": "refs/heads/main", "oldSha": body["updatedRefs"][0]["oldSha"], "newSha": commit.oid}
    ]
    assert re.fullmatch(r"[0-9a-f]{40}", body["updatedRefs"][0]["oldSha"])
    repo = body["repo"]
    assert (repo["type"], repo["name"], repo["private"]) == ("model", repo_id, False)
    assert HEX24.fullmatch(repo["id"]) and HEX24.fullmatch(repo["owner"]["id"])
    assert repo["headSha"] == commit.oid
    assert repo["url"] == {
        "web": f"{hooks_hub.endpoint}/{repo_id}",
        "api": f"{hooks_hub.endpoint}/api/models/{repo_id}",
    }
    assert body["webhook"] == {"id": webhook.id, "version": 3}
    parsed = WebhookPayload.model_validate(body)
    assert parsed.repo.name == repo_id and parsed.updatedRefs is not None
    created = receiver.wait(url, lambda b: b["event"] == {"action": "create", "scope": "repo"})
    assert created.body["repo"]["id"] == repo["id"]


def test_a_settings_change_is_a_repo_config_update(hooks_hub: HookHub, receiver: Receiver) -> None:
    api = hooks_hub.api(hooks_hub.alice)
    url = receiver.hook_url()
    api.create_webhook(url=url, watched=[{"type": "user", "name": "alice"}], domains=["repo"])
    repo_id = api.create_repo(unique("config")).repo_id
    api.update_repo_settings(repo_id, private=True)
    got = receiver.wait(url, lambda b: b["event"]["scope"] == "repo.config")
    assert got.body["event"]["action"] == "update"
    assert got.body["updatedConfig"] == {"private": True}
    assert got.body["repo"]["private"] is True and got.body["repo"]["name"] == repo_id
    assert "X-Webhook-Secret" not in got.headers


def test_a_failing_receiver_is_retried_and_each_attempt_logged(
    hooks_hub: HookHub, receiver: Receiver
) -> None:
    api = hooks_hub.api(hooks_hub.alice)
    url = receiver.hook_url("fail2")
    name = unique("retried")
    webhook = api.create_webhook(url=url, watched=[{"type": "model", "name": f"alice/{name}"}])
    api.create_repo(name)
    deadline = time.monotonic() + 20
    while len(receiver.at(url)) < 3:  # 500, 500, then 200
        assert time.monotonic() < deadline, receiver.at(url)
        time.sleep(0.05)
    while attempts(hooks_hub, webhook.id) != [("succeeded", [500, 500, 200])]:
        assert time.monotonic() < deadline, attempts(hooks_hub, webhook.id)
        time.sleep(0.1)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.2:9/x", "http://169.254.169.254/latest", "http://10.0.0.1/", "http://[::1]/",
     "http://0.0.0.0:80/", "ftp://example.com/", "not a url"],
)  # fmt: skip
def test_internal_hosts_are_refused(hooks_hub: HookHub, url: str) -> None:
    with pytest.raises(HfHubHTTPError) as refused:
        hooks_hub.api(hooks_hub.alice).create_webhook(
            url=url, watched=[{"type": "user", "name": "x"}]
        )
    assert refused.value.response.status_code == 400
    assert refused.value.response.headers["x-error-message"]


def test_a_name_refused_at_delivery_is_logged_with_the_reason(
    hooks_hub: HookHub, receiver: Receiver
) -> None:
    """A name that does not resolve when the webhook is made is checked again on delivery."""
    api = hooks_hub.api(hooks_hub.alice)
    name = unique("unresolved")
    webhook = api.create_webhook(
        url="http://no-such-host.invalid/hook", watched=[{"type": "model", "name": f"alice/{name}"}]
    )
    api.create_repo(name)
    deadline = time.monotonic() + 60  # a slow name server may take a while to say no
    while [status for status, _ in attempts(hooks_hub, webhook.id)] != ["failed"]:
        assert time.monotonic() < deadline, attempts(hooks_hub, webhook.id)
        time.sleep(0.1)
    assert attempts(hooks_hub, webhook.id) == [("failed", [None])]


def test_webhooks_are_their_owners_alone(hooks_hub: HookHub) -> None:
    alice, bob = hooks_hub.api(hooks_hub.alice), hooks_hub.api(hooks_hub.bob)
    mine = alice.create_webhook(
        url="https://hooks.example.com/a", watched=[{"type": "user", "name": "alice"}]
    )
    assert mine.id not in [w.id for w in bob.list_webhooks()]
    for call in (
        lambda: bob.get_webhook(mine.id),
        lambda: bob.update_webhook(mine.id, url="https://evil.example.com/"),
        lambda: bob.disable_webhook(mine.id),
        lambda: bob.delete_webhook(mine.id),
    ):
        with pytest.raises(HfHubHTTPError) as refused:
            call()
        assert refused.value.response.status_code == 404
    assert alice.get_webhook(mine.id).url == "https://hooks.example.com/a"
    anonymous = httpx.get(f"{hooks_hub.endpoint}/api/settings/webhooks")
    assert anonymous.status_code == 401 and anonymous.headers["x-error-message"]
    reader = hooks_hub.api(hooks_hub.alice_read)
    assert mine.id in [w.id for w in reader.list_webhooks()]
    with pytest.raises(HfHubHTTPError) as refused:
        reader.create_webhook(
            url="https://hooks.example.com/b", watched=[{"type": "user", "name": "x"}]
        )
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize(
    "body",
    [{}, {"url": "https://hooks.example.com/", "watched": []}, {"url": 5, "watched": "x"},
     {"url": "https://hooks.example.com/", "watched": [{"type": "planet", "name": "x"}]},
     {"url": "https://hooks.example.com/", "watched": [{"type": "user", "name": "x"}],
      "domains": ["everything"]},
     {"jobSourceId": "abc", "watched": [{"type": "user", "name": "x"}]},
     {"url": "https://hooks.example.com/", "watched": [{"type": "user", "name": "x"}],
      "secret": "é"}],
)  # fmt: skip
def test_malformed_webhooks_are_4xx(hooks_hub: HookHub, body: dict[str, Any]) -> None:
    headers = {"authorization": f"Bearer {hooks_hub.alice}"}
    response = httpx.post(f"{hooks_hub.endpoint}/api/settings/webhooks", json=body, headers=headers)
    assert 400 <= response.status_code < 500 and response.headers["x-error-message"], response.text
    for path in ("/api/settings/webhooks/nope", "/api/settings/webhooks/" + "0" * 24):
        assert httpx.get(hooks_hub.endpoint + path, headers=headers).status_code == 404


def test_a_private_repo_is_heard_of_only_by_those_who_can_read_it(
    hooks_hub: HookHub, receiver: Receiver
) -> None:
    alice, bob = hooks_hub.api(hooks_hub.alice), hooks_hub.api(hooks_hub.bob)
    bobs, alices = receiver.hook_url(), receiver.hook_url()
    bob.create_webhook(url=bobs, watched=[{"type": "user", "name": "alice"}])
    alice.create_webhook(url=alices, watched=[{"type": "user", "name": "alice"}])
    secret = alice.create_repo(unique("secret"), private=True).repo_id
    alice.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=secret)
    public = alice.create_repo(unique("open")).repo_id
    receiver.wait(
        alices, lambda b: b["repo"]["name"] == secret and b["event"]["scope"] == "repo.content"
    )
    receiver.wait(bobs, lambda b: b["repo"]["name"] == public)  # bob's came after alice's
    receiver.wait(alices, lambda b: b["repo"]["name"] == public)
    assert all(r.body["repo"]["name"] != secret for r in receiver.at(bobs))


def test_a_pull_request_comment_and_merge_are_delivered(
    hooks_hub: HookHub, receiver: Receiver
) -> None:
    """The discussion events (recorded by community/) reach a webhook as HF's payloads."""
    alice, bob = hooks_hub.api(hooks_hub.alice), hooks_hub.api(hooks_hub.bob)
    url = receiver.hook_url()
    repo_id = alice.create_repo(unique("pr-hooked")).repo_id
    alice.create_webhook(url=url, watched=[{"type": "model", "name": repo_id}])
    pr = bob.upload_file(path_or_fileobj=b"fix", path_in_repo="fix.txt", repo_id=repo_id,
                         create_pr=True, commit_message="Fix the card")  # fmt: skip
    assert pr.pr_num is not None
    opened = receiver.wait(url, lambda b: b["event"] == {"action": "create", "scope": "discussion"})
    discussion = opened.body["discussion"]
    assert (discussion["num"], discussion["isPullRequest"]) == (pr.pr_num, True)
    assert discussion["status"] == "open" and discussion["title"] == "Fix the card"
    assert discussion["url"]["web"] == f"{hooks_hub.endpoint}/{repo_id}/discussions/{pr.pr_num}"
    comment = alice.comment_discussion(repo_id, pr.pr_num, "Thanks, merging.")
    said = receiver.wait(url, lambda b: b["event"]["scope"] == "discussion.comment"
                         and b.get("comment", {}).get("content") == "Thanks, merging.")  # fmt: skip
    assert said.body["event"]["action"] == "create"
    assert said.body["comment"]["id"] == comment.id
    assert said.body["comment"]["author"]["id"] and said.body["comment"]["hidden"] is False
    alice.merge_pull_request(repo_id, pr.pr_num)
    merged = alice.get_discussion_details(repo_id, pr.pr_num)
    assert merged.merge_commit_oid is not None
    update = receiver.wait(url, lambda b: b["event"] == {"action": "update", "scope": "discussion"}
                           and b["discussion"]["status"] == "merged")  # fmt: skip
    assert update.body["discussion"]["changes"]["mergeCommitId"] == merged.merge_commit_oid
    parsed = WebhookPayload.model_validate(update.body)
    assert parsed.discussion is not None and parsed.discussion.num == pr.pr_num
    main = {"ref": "refs/heads/main", "newSha": merged.merge_commit_oid}

    def main_moved_to_merge(body: dict[str, Any]) -> bool:
        refs = body.get("updatedRefs") or []
        return any({k: r[k] for k in main} == main for r in refs)

    main_moved = receiver.wait(url, main_moved_to_merge)
    assert main_moved.body["repo"]["headSha"] == merged.merge_commit_oid
