"""Community pages of a repo: the discussions list (its Community tab), a new discussion, and a
discussion or pull request with its comments, commits, "Files changed" and actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from hugbox.auth.scopes import Permission
from hugbox.auth.sessions import PageCaller
from hugbox.community import actions, service
from hugbox.deps import SessionDep, StoreDep
from hugbox.errors import AuthenticationRequired, BadRequest
from hugbox.repos import access, browse
from hugbox.repos.deps import load_repo
from hugbox.repos.models import Repo
from hugbox.repos.pages import PageRepo, add_repo_page, repo_path, see_other
from hugbox.repos.service import Need
from hugbox.web.markdown import render_markdown
from hugbox.web.session import CheckedForm
from hugbox.web.templates import render

router = APIRouter(tags=["pages"])


def _contributor(request: Request, session: SessionDep, caller: PageCaller) -> Repo:
    if caller.anonymous:  # a page asks to log in rather than answering 401
        raise AuthenticationRequired("Log in to take part in discussions")
    return load_repo(request, session, caller, Need.CONTRIBUTE)


ContributingRepo = Annotated[Repo, Depends(_contributor)]


def _page(path: str, methods: tuple[str, ...] = ("GET",)) -> Callable[[Any], Any]:
    def register(handler: Any) -> Any:
        add_repo_page(router, path, handler, methods)
        return handler

    return register


def thread_path(repo: Repo, num: int) -> str:
    return f"{repo_path(repo)}/discussions/{num}"


@_page("/discussions")
def community(
    request: Request, repo: PageRepo, session: SessionDep,
    status: Literal["open", "closed", "all"] = "open",
    type: Literal["all", "discussion", "pull_request"] = "all",
    p: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:  # fmt: skip
    page = service.list_discussions(session, repo, page=p, kind=type, status=status)

    def link(**change: Any) -> str:
        return "?" + urlencode({"status": status, "type": type, **change})

    return render(
        request, "discussions.html", repo=repo, tab="community", page=page, status=status,
        kind=type, p=p, link=link, more=page.start + len(page.discussions) < page.count,
    )  # fmt: skip


@_page("/discussions/new")
def new_discussion_page(request: Request, repo: ContributingRepo) -> Response:
    return render(request, "discussion_new.html", repo=repo, tab="community")


@_page("/discussions/new", methods=("POST",))
def new_discussion(
    repo: ContributingRepo, session: SessionDep, store: StoreDep, caller: PageCaller,
    form: CheckedForm,
) -> Response:  # fmt: skip
    num = actions.create_discussion(
        session, store, caller=caller, repo=repo, title=str(form.get("title") or ""),
        description=str(form.get("description") or ""), pull_request=False,
    )  # fmt: skip
    return see_other(thread_path(repo, num))


@_page("/discussions/{num:int}")
def discussion_page(
    request: Request, repo: PageRepo, session: SessionDep, store: StoreDep, caller: PageCaller,
    num: int,
) -> Response:  # fmt: skip
    d = service.get_discussion(session, repo, num)
    found = service.thread(session, store, repo, d)
    files = []
    if (
        found.pr
        and found.pr.head
        and found.pr.commits
        and access.can_download(session, caller, repo)
    ):
        files = browse.compare_files(store, repo, found.pr.merge_base, found.pr.head)
    writer = access.can_write(caller, repo)
    mine = caller.user is not None and caller.user.id == d.author_id
    return render(
        request, "discussion.html", repo=repo, tab="community", d=d, thread=found, files=files,
        html={e.id: render_markdown(e.content) for e in found.events if e.type == "comment"},
        may_comment=access.may(caller, Permission.DISCUSSION_WRITE, repo) and not caller.anonymous,
        may_moderate=writer or mine, may_merge=writer and d.status == "open" and bool(
            found.pr and found.pr.commits and not found.pr.conflicts),
    )  # fmt: skip


@_page("/discussions/{num:int}/comment", methods=("POST",))
def comment(
    repo: ContributingRepo, session: SessionDep, caller: PageCaller, form: CheckedForm, num: int
) -> Response:
    d = service.get_discussion(session, repo, num)
    text = str(form.get("comment") or "")
    actions.comment(session, caller=caller, repo=repo, d=d, content=text)
    return see_other(thread_path(repo, num))


@_page("/discussions/{num:int}/status", methods=("POST",))
def change_status(
    repo: ContributingRepo, session: SessionDep, caller: PageCaller, form: CheckedForm, num: int
) -> Response:
    d = service.get_discussion(session, repo, num)
    status = str(form.get("status") or "")
    actions.change_status(session, caller=caller, repo=repo, d=d, status=status)
    return see_other(thread_path(repo, num))


@_page("/discussions/{num:int}/merge", methods=("POST",))
def merge(
    repo: ContributingRepo, session: SessionDep, store: StoreDep, caller: PageCaller,
    form: CheckedForm, num: int,
) -> Response:  # fmt: skip
    d = service.get_discussion(session, repo, num)
    if not d.is_pull_request:
        raise BadRequest(f"Discussion #{num} is not a pull request")
    actions.merge(session, store, caller=caller, repo=repo, d=d)
    return see_other(thread_path(repo, num))
