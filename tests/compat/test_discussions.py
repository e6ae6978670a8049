"""Discussions and pull requests through the stock huggingface_hub 2.4, `hf discussions` and
git, against a live hugbox: every call of spec §1, who may do what, pushes to `refs/pr/N`,
squash merges and conflicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.community import DiscussionComment
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from support import Hub, unique

# The client warns that hiding is irreversible, as it is.
pytestmark = [pytest.mark.compat, pytest.mark.filterwarnings("ignore:Hidden comments")]
HF = Path(sys.executable).with_name("hf")


def api_of(hub: Hub, token: str | None) -> HfApi:
    return HfApi(endpoint=hub.endpoint, token=token if token else False)


@pytest.fixture
def alice(hub: Hub) -> HfApi:
    return api_of(hub, hub.alice)


@pytest.fixture
def bob(hub: Hub) -> HfApi:
    return api_of(hub, hub.bob)


@pytest.fixture
def repo_id(alice: HfApi) -> str:
    repo_id = alice.create_repo(f"alice/{unique('talk')}").repo_id
    alice.upload_file(path_or_fileobj=b"one\ntwo\n", path_in_repo="a.txt", repo_id=repo_id)
    return repo_id


def status_of(call: Callable[[], object]) -> tuple[int, str]:
    with pytest.raises(HfHubHTTPError) as error:
        call()
    response = error.value.response
    return response.status_code, str(response.headers.get("x-error-message", ""))


def add(path: str, data: bytes) -> list[CommitOperationAdd]:
    return [CommitOperationAdd(path_in_repo=path, path_or_fileobj=data)]


def test_the_whole_pull_request_flow(hub: Hub, alice: HfApi, bob: HfApi, repo_id: str) -> None:
    pr = bob.create_pull_request(repo_id, " Fix the numbers ", description="Please **merge**")
    assert (pr.num, pr.status, pr.title, pr.author) == (1, "draft", "Fix the numbers", "bob")
    assert pr.url == f"{hub.endpoint}/{repo_id}/discussions/1"
    assert alice.repo_info(repo_id, revision="refs/pr/1").sha == alice.model_info(repo_id).sha
    bob.create_commit(repo_id, add("a.txt", b"one\n2\n"), commit_message="Two is 2",
                      revision=pr.git_reference)  # fmt: skip
    bob.change_discussion_status(repo_id, 1, "open")  # publish
    comment = alice.comment_discussion(repo_id, 1, "Looks *good*")
    details = alice.get_discussion_details(repo_id, 1)
    assert [e.type for e in details.events] == ["comment", "commit", "status-change", "comment"]
    assert details.events[1].summary == "Two is 2"  # type: ignore[attr-defined]
    assert comment.id in {e.id for e in details.events}
    assert details.target_branch == "refs/heads/main" and details.conflicting_files == []
    assert "-two\n+2" in str(details.diff)
    assert alice.get_discussion_details(repo_id, 1) == details  # the same JSON every time
    alice.merge_pull_request(repo_id, 1, comment="Thanks!")
    merged = alice.get_discussion_details(repo_id, 1)
    assert merged.status == "merged" and merged.merge_commit_oid == alice.model_info(repo_id).sha
    assert [e.type for e in merged.events][-2:] == ["comment", "status-change"]
    head = alice.list_repo_commits(repo_id)[0]
    assert head.commit_id == merged.merge_commit_oid and head.title == "Fix the numbers (#1)"
    sha = details.events[1].oid  # type: ignore[attr-defined]
    assert f"- Two is 2 ({sha})" in head.message and "Co-authored-by: bob <" in head.message
    path = alice.hf_hub_download(repo_id, "a.txt", cache_dir=str(hub.data_dir / "dl"))
    assert Path(path).read_bytes() == b"one\n2\n"
    assert status_of(lambda: alice.merge_pull_request(repo_id, 1))[0] == 400


def test_list_filters_and_pages(alice: HfApi, bob: HfApi, repo_id: str) -> None:
    for i in range(52):
        alice.create_discussion(repo_id, f"question {i}")
    pr = bob.create_pull_request(repo_id, "a draft")
    alice.change_discussion_status(repo_id, 1, "closed")
    nums = [d.num for d in alice.get_repo_discussions(repo_id)]
    assert nums == list(range(53, 0, -1))  # newest first, over two pages
    assert [d.num for d in alice.get_repo_discussions(repo_id, discussion_type="pull_request")] == [
        pr.num
    ]
    assert [d.num for d in alice.get_repo_discussions(repo_id, author="bob")] == [pr.num]
    assert list(alice.get_repo_discussions(repo_id, author="nobody")) == []
    opened = [d.num for d in alice.get_repo_discussions(repo_id, discussion_status="open")]
    assert pr.num in opened and 1 not in opened  # drafts count as open
    assert [d.num for d in alice.get_repo_discussions(repo_id, discussion_status="closed")] == [1]
    body = httpx.get(f"{alice.endpoint}/api/models/{repo_id}/discussions", params={"p": 1}).json()
    assert (body["start"], body["count"], len(body["discussions"])) == (50, 53, 3)
    assert body["numClosedDiscussions"] == 1 and body["discussions"][0]["createdAt"][-1] == "Z"


def test_comments_edit_hide_rename_status(alice: HfApi, bob: HfApi, repo_id: str) -> None:
    d = bob.create_discussion(repo_id, "Why?", description="first")
    opening = d.events[0]
    assert isinstance(opening, DiscussionComment) and opening.content == "first"
    mine = bob.comment_discussion(repo_id, d.num, "mine")
    edited = bob.edit_discussion_comment(repo_id, d.num, mine.id, "mine, edited")
    assert edited.edited and edited.content == "mine, edited"
    later = alice.get_discussion_details(repo_id, d.num)
    assert [e for e in later.events if e.id == mine.id] == [edited]
    assert status_of(lambda: bob.edit_discussion_comment(repo_id, d.num, "0" * 24, "x"))[0] == 404
    theirs = alice.comment_discussion(repo_id, d.num, "owner's")
    assert status_of(lambda: bob.hide_discussion_comment(repo_id, d.num, theirs.id))[0] == 403
    hidden = alice.hide_discussion_comment(repo_id, d.num, mine.id)
    assert hidden.hidden and hidden.content == "This comment has been hidden"
    assert status_of(lambda: bob.edit_discussion_comment(repo_id, d.num, mine.id, "back"))[0] == 400
    renamed = bob.rename_discussion(repo_id, d.num, "Why not?")  # its author may
    assert (renamed.old_title, renamed.new_title) == ("Why?", "Why not?")
    closed = bob.change_discussion_status(repo_id, d.num, "closed", comment="solved")
    assert closed.new_status == "closed"
    other = alice.create_discussion(repo_id, "owner's own")
    assert status_of(lambda: bob.change_discussion_status(repo_id, other.num, "closed"))[0] == 403
    assert status_of(lambda: bob.rename_discussion(repo_id, other.num, "mine now"))[0] == 403
    events = alice.get_discussion_details(repo_id, d.num).events
    assert [e.type for e in events][-3:] == ["title-change", "comment", "status-change"]


def test_commit_prs_start_open_and_merge_at_once(alice: HfApi, bob: HfApi, repo_id: str) -> None:
    alice.create_branch(repo_id, branch="dev")
    info = bob.create_commit(repo_id, add("b.txt", b"b"), commit_message="Add b",
                             create_pr=True, revision="dev")  # fmt: skip
    assert info.pr_url and info.pr_url.endswith("/discussions/1")
    details = alice.get_discussion_details(repo_id, 1)
    assert (details.status, details.target_branch) == ("open", "refs/heads/dev")
    bob.create_commit(repo_id, add("c.txt", b"c"), commit_message="Add c", revision="refs/pr/1")
    assert status_of(lambda: bob.merge_pull_request(repo_id, 1))[0] == 403  # writers merge
    alice.merge_pull_request(repo_id, 1)
    assert {"b.txt", "c.txt"} <= set(alice.list_repo_files(repo_id, revision="dev"))
    assert "b.txt" not in alice.list_repo_files(repo_id)
    # a closed PR takes no more commits from its (non-writer) author
    with pytest.raises(HfHubHTTPError):
        bob.create_commit(repo_id, add("d.txt", b"d"), commit_message="d", revision="refs/pr/1")


def test_conflicts_when_main_moved(alice: HfApi, bob: HfApi, repo_id: str) -> None:
    bob.create_commit(repo_id, add("a.txt", b"one\nTWO\n"), commit_message="caps", create_pr=True)
    clean = bob.create_commit(repo_id, add("new.txt", b"x"), commit_message="n", create_pr=True)
    alice.upload_file(path_or_fileobj=b"one\nzwei\n", path_in_repo="a.txt", repo_id=repo_id)
    assert alice.get_discussion_details(repo_id, 1).conflicting_files == ["a.txt"]
    code, message = status_of(lambda: alice.merge_pull_request(repo_id, 1))
    assert code == 409 and "a.txt" in message
    assert clean.pr_num == 2 and alice.get_discussion_details(repo_id, 2).conflicting_files == []
    alice.merge_pull_request(repo_id, 2)  # merged on top of main's new head
    assert {"a.txt", "new.txt"} <= set(alice.list_repo_files(repo_id))
    main = alice.hf_hub_download(repo_id, "a.txt", force_download=True)
    assert Path(main).read_bytes() == b"one\nzwei\n"


def test_who_may_do_what(hub: Hub, alice: HfApi, bob: HfApi, repo_id: str) -> None:
    anonymous, reader = api_of(hub, None), api_of(hub, hub.alice_read)
    d = alice.create_discussion(repo_id, "open to all")
    assert [x.num for x in anonymous.get_repo_discussions(repo_id)] == [d.num]
    assert anonymous.get_discussion_details(repo_id, d.num).title == "open to all"
    assert status_of(lambda: anonymous.create_discussion(repo_id, "anon"))[0] == 401
    assert status_of(lambda: anonymous.comment_discussion(repo_id, d.num, "anon"))[0] == 401
    assert status_of(lambda: reader.create_discussion(repo_id, "read token"))[0] == 403
    assert status_of(lambda: reader.comment_discussion(repo_id, d.num, "read token"))[0] == 403
    assert status_of(lambda: reader.merge_pull_request(repo_id, d.num))[0] == 403
    assert bob.comment_discussion(repo_id, d.num, "a stranger's comment").content
    carol = api_of(hub, hub.carol)  # a stranger to alice's private repo
    private = alice.create_repo(f"alice/{unique('secret')}", private=True).repo_id
    alice.create_discussion(private, "secret plans")
    for call in (
        lambda: carol.get_repo_discussions(private).__next__(),
        lambda: carol.get_discussion_details(private, 1),
        lambda: carol.create_discussion(private, "let me in"),
        lambda: carol.comment_discussion(private, 1, "hi"),
        lambda: carol.merge_pull_request(private, 1),
        lambda: anonymous.get_discussion_details(private, 1),
    ):
        with pytest.raises(RepositoryNotFoundError):
            call()


def test_malformed_requests_get_hf_errors(hub: Hub, alice: HfApi, repo_id: str) -> None:
    alice.create_discussion(repo_id, "target")
    base = f"{hub.endpoint}/api/models/{repo_id}/discussions"
    auth = {"authorization": f"Bearer {hub.alice}"}
    cases: list[tuple[str, str, Any]] = [
        ("GET", "/99", None), ("GET", "/0", None), ("GET", "/x", None),
        ("GET", "?status=merged", None), ("GET", "?type=nope", None), ("GET", "?p=-1", None),
        ("POST", "", {"title": "x"}), ("POST", "", {"title": "ok title", "pullRequest": "?"}),
        ("POST", "", "not json"), ("POST", "/1/status", {"status": "published"}),
        ("POST", "/1/title", {}), ("POST", "/1/comment", {"comment": ""}),
        ("POST", "/1/comment/zz/edit", {"content": "x"}), ("POST", "/1/merge", None),
        ("POST", "/99/comment", {"comment": "x"}),
        ("POST", "/1/comment/" + "a" * 24 + "/hide", None),
    ]  # fmt: skip
    for method, path, body in cases:
        content = body if isinstance(body, str) else json.dumps(body) if body else None
        response = httpx.request(method, base + path, content=content, headers=auth)
        assert 400 <= response.status_code < 500, (method, path, response.status_code)
        assert response.headers.get("x-error-message") or response.status_code == 422, path


def git_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    for key, value in (("user.name", "Bob"), ("user.email", "bob@example.com")):
        subprocess.run(["git", "config", "--global", key, value], env=env, check=True)
    return env


def git(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_git_push_to_a_pull_request(
    hub: Hub, alice: HfApi, bob: HfApi, repo_id: str, tmp_path: Path
) -> None:
    env = git_env(tmp_path)
    mine = bob.create_pull_request(repo_id, "by git")
    theirs = alice.create_pull_request(repo_id, "theirs")
    host = hub.endpoint.removeprefix("http://")
    work = tmp_path / "work"
    cloned = git(tmp_path, "clone", f"http://bob:{hub.bob}@{host}/{repo_id}", str(work), env=env)
    assert cloned.returncode == 0, cloned.stderr
    (work / "a.txt").write_text("one\ntwo\nthree\n")
    assert git(work, "commit", "-qam", "Three", env=env).returncode == 0
    pushed = git(work, "push", "origin", f"HEAD:refs/pr/{mine.num}", env=env)
    assert pushed.returncode == 0, pushed.stderr
    details = alice.get_discussion_details(repo_id, mine.num)
    assert [e.summary for e in details.events if e.type == "commit"] == ["Three"]  # type: ignore[attr-defined]
    refused = git(work, "push", "origin", f"HEAD:refs/pr/{theirs.num}", env=env)
    assert refused.returncode != 0 and "remote: hugbox: refs/pr/" in refused.stderr
    refused = git(work, "push", "origin", "HEAD:main", env=env)
    assert refused.returncode != 0 and "push to a pull request" in refused.stderr
    bob.change_discussion_status(repo_id, mine.num, "open")
    alice.merge_pull_request(repo_id, mine.num)
    assert alice.get_discussion_details(repo_id, mine.num).status == "merged"
    (work / "a.txt").write_text("late\n")
    git(work, "commit", "-qam", "Late", env=env)
    refused = git(work, "push", "origin", f"HEAD:refs/pr/{mine.num}", env=env)
    assert refused.returncode != 0  # a merged PR takes no more pushes (bob writes nothing else)


def hf(hub: Hub, *args: str, token: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": token, "NO_COLOR": "1",
           "HF_HUB_DISABLE_UPDATE_CHECK": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}  # fmt: skip
    done = subprocess.run([str(HF), "discussions", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, f"hf discussions {' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done


def test_hf_discussions_cli(hub: Hub, alice: HfApi, bob: HfApi, repo_id: str) -> None:
    hf(hub, "create", repo_id, "--title", "From the CLI", "--body", "hello", token=hub.bob)
    bob.create_commit(repo_id, add("cli.txt", b"cli\n"), commit_message="cli", create_pr=True)
    listed = json.loads(hf(hub, "list", repo_id, "--format", "json", token=hub.alice).stdout)
    assert sorted(item["num"] for item in listed) == [1, 2]
    info = hf(hub, "info", repo_id, "1", "--format", "json", token=hub.alice).stdout
    assert "From the CLI" in info
    hf(hub, "comment", repo_id, "1", "--body", "noted", token=hub.alice)
    hf(hub, "rename", repo_id, "1", "From the hf CLI", token=hub.bob)
    hf(hub, "close", repo_id, "1", "--yes", token=hub.bob)
    hf(hub, "reopen", repo_id, "1", "--yes", token=hub.bob)
    assert "+cli" in hf(hub, "diff", repo_id, "2", token=hub.alice).stdout
    hf(hub, "merge", repo_id, "2", "--yes", token=hub.alice)
    details = alice.get_discussion_details(repo_id, 1)
    assert (details.title, details.status) == ("From the hf CLI", "open")
    assert alice.get_discussion_details(repo_id, 2).status == "merged"
    assert "cli.txt" in alice.list_repo_files(repo_id)


def test_upload_folder_pull_request_of_a_reader(
    alice: HfApi, bob: HfApi, repo_id: str, tmp_path: Path
) -> None:
    """With hf_xet, `upload_folder(create_pr=True)` opens a draft PR, then commits to its ref:
    its author's commits, though bob may not write the repo."""
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "notes.txt").write_bytes(b"notes\n")
    (folder / "weights.safetensors").write_bytes(os.urandom(4096))
    info = bob.upload_folder(folder_path=folder, repo_id=repo_id, create_pr=True,
                             commit_message="Add a folder")  # fmt: skip
    assert info.pr_num is not None
    details = alice.get_discussion_details(repo_id, info.pr_num)
    assert details.author == "bob" and details.is_pull_request
    files = alice.list_repo_files(repo_id, revision=f"refs/pr/{info.pr_num}")
    assert {"sub/notes.txt", "weights.safetensors"} <= set(files)
    assert "sub/notes.txt" not in alice.list_repo_files(repo_id)
