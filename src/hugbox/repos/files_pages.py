"""File pages of a repo: tree, file view, history, commit diff, upload, edit and delete."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, unquote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from hugbox.auth.service import Caller
from hugbox.auth.sessions import PageCaller
from hugbox.deps import SessionDep, StoreDep
from hugbox.errors import BadRequest, EntryNotFound
from hugbox.repos import access, browse, commits
from hugbox.repos.hooks import HooksDep
from hugbox.repos.models import Repo
from hugbox.repos.pages import (
    ContributingPageRepo,
    FilesRepo,
    PageRepo,
    WritablePageRepo,
    add_repo_page,
    repo_path,
    see_other,
)
from hugbox.repos.payload import AddFile, CommitHeader, DeleteFile, Operation
from hugbox.repos.spool import spool_text, spool_upload
from hugbox.repos.store import RepoStore
from hugbox.web.markdown import highlight_file
from hugbox.web.session import CheckedForm
from hugbox.web.templates import render

router = APIRouter(tags=["pages"])
HISTORY_PAGE = 30
TREE_PAGE = 500  # entries per tree page: a 10,000-file folder is twenty pages
Handler = TypeVar("Handler", bound=Callable[..., Any])


def _register(path: str, methods: tuple[str, ...] = ("GET",)) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        add_repo_page(router, path, handler, methods)
        return handler

    return register


def _crumbs(repo: Repo, revision: str, path: str) -> list[tuple[str, str]]:
    base = f"{repo_path(repo)}/tree/{quote(revision, safe='')}"
    crumbs, walked = [(repo.name, base)], ""
    for part in [p for p in path.split("/") if p]:
        walked = f"{walked}/{part}" if walked else part
        crumbs.append((part, f"{base}/{quote(walked)}"))
    return crumbs


def _tree(
    request: Request, repo: PageRepo, store: StoreDep, session: SessionDep, hooks: HooksDep,
    revision: str, path: str = "", p: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:  # fmt: skip
    revision, path = unquote(revision), unquote(path)
    switch = request.query_params.get("revision")
    if switch and switch != revision:  # the branch/tag switcher, without JS
        return see_other(
            f"{repo_path(repo)}/tree/{quote(switch, safe='')}/{quote(path)}".rstrip("/")
        )
    folder = browse.folder(store, repo, revision, path, offset=p * TREE_PAGE, limit=TREE_PAGE)
    return render(
        request, "tree.html", repo=repo, tab="files", revision=revision, folder=folder,
        crumbs=_crumbs(repo, revision, path), page=p,
        more=folder.offset + len(folder.entries) < folder.total,
        badges=hooks.badges(session, folder.entries),
    )  # fmt: skip


_register("/tree/{revision}")(_tree)
_register("/tree/{revision}/{path:path}")(_tree)


@_register("/blob/{revision}/{path:path}")
def blob(
    request: Request, repo: FilesRepo, store: StoreDep, session: SessionDep, hooks: HooksDep,
    revision: str, path: str,
) -> Response:  # fmt: skip
    revision, path = unquote(revision), unquote(path)
    view = browse.file_view(store, repo, revision, path)
    resolve = f"{repo_path(repo)}/resolve/{quote(view.commit_id)}/{quote(path)}"
    return render(
        request, "blob.html", repo=repo, tab="files", revision=revision, view=view,
        highlighted=highlight_file(path, view.text) if view.text is not None else None,
        crumbs=_crumbs(repo, revision, path), raw_url=resolve,
        badges=hooks.badges(session, [view.file]).get(view.file.path, []),
        download_url=f"{resolve}?download=true",
    )  # fmt: skip


@_register("/commits/{revision}")
def history(
    request: Request, repo: PageRepo, store: StoreDep, revision: str,
    p: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:  # fmt: skip
    revision = unquote(revision)
    items = browse.history(store, repo, revision, offset=p * HISTORY_PAGE, limit=HISTORY_PAGE + 1)
    return render(
        request, "commits.html", repo=repo, tab="files", revision=revision,
        commits=items[:HISTORY_PAGE], page=p, more=len(items) > HISTORY_PAGE,
    )  # fmt: skip


@_register("/commit/{sha}")
def commit_page(request: Request, repo: FilesRepo, store: StoreDep, sha: str) -> Response:
    # The diff shows file contents: a gated repo's need the access its files need.
    view = browse.commit_view(store, repo, unquote(sha))
    return render(request, "commit.html", repo=repo, tab="files", view=view)


def commit_ops(
    session: Session, store: RepoStore, caller: Caller, repo: Repo, revision: str,
    operations: list[Operation], message: str, *, create_pr: bool = False, description: str = "",
) -> commits.CommitInfo:  # fmt: skip
    """Every browser edit goes through the one write path, `commits.create_commit`."""
    header = CommitHeader(summary=message, description=description, parent_commit=None)
    return commits.create_commit(
        session, store, caller=caller, repo=repo, revision=revision, header=header,
        operations=operations, create_pr=create_pr,
    )  # fmt: skip


def commit_text(
    session: Session, store: RepoStore, caller: Caller, repo: Repo, revision: str, path: str,
    text: str, message: str, *, create_pr: bool = False, description: str = "",
) -> commits.CommitInfo:  # fmt: skip
    spool = Path(tempfile.mkdtemp(prefix="edit-", dir=store.tmp_dir))
    try:
        op = AddFile(path, spool_text(text, spool))
        return commit_ops(
            session, store, caller, repo, revision, [op], message, create_pr=create_pr,
            description=description,
        )  # fmt: skip
    finally:
        shutil.rmtree(spool, ignore_errors=True)


@_register("/upload/{revision}")
def upload_page(request: Request, repo: WritablePageRepo, revision: str) -> Response:
    return render(request, "upload.html", repo=repo, tab="files", revision=unquote(revision))


@_register("/upload/{revision}", methods=("POST",))
async def upload(
    request: Request, repo: WritablePageRepo, session: SessionDep, store: StoreDep,
    caller: PageCaller, form: CheckedForm, revision: str,
) -> Response:  # fmt: skip
    revision = unquote(revision)
    folder = str(form.get("folder") or "").strip("/ ")
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    if not uploads:
        raise BadRequest("Choose at least one file to upload")
    spool = Path(tempfile.mkdtemp(prefix="upload-", dir=store.tmp_dir))
    try:
        ops: list[Operation] = []
        for item in uploads:
            name = str(item.filename).replace("\\", "/").lstrip("/")
            spooled = await run_in_threadpool(spool_upload, item, spool)
            ops.append(AddFile(f"{folder}/{name}" if folder else name, spooled))
        message = str(form.get("message") or "").strip() or f"Upload {len(ops)} file(s)"
        await run_in_threadpool(commit_ops, session, store, caller, repo, revision, ops, message)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return see_other(
        f"{repo_path(repo)}/tree/{quote(revision, safe='')}/{quote(folder)}".rstrip("/")
    )


@_register("/edit/{revision}/{path:path}")
def edit_page(
    request: Request, repo: ContributingPageRepo, store: StoreDep, caller: PageCaller,
    revision: str, path: str,
) -> Response:  # fmt: skip
    revision, path = unquote(revision), unquote(path)
    try:
        text = browse.file_view(store, repo, revision, path).text
    except EntryNotFound:
        text = f"---\nlicense: apache-2.0\n---\n\n# {repo.name}\n" if path == "README.md" else ""
    if text is None:
        raise BadRequest(f"{path} is not a text file that can be edited here")
    return render(
        request, "edit.html", repo=repo, tab="files", revision=revision, file_path=path, text=text,
        may_commit=access.can_write(caller, repo),
    )  # fmt: skip


@_register("/edit/{revision}/{path:path}", methods=("POST",))
def edit(
    repo: ContributingPageRepo, session: SessionDep, store: StoreDep, caller: PageCaller,
    form: CheckedForm, revision: str, path: str,
) -> Response:  # fmt: skip
    """Commit the edit, or open a pull request with it: what one who may not write gets."""
    revision, path = unquote(revision), unquote(path)
    text = str(form.get("content") or "").replace("\r\n", "\n")
    message = str(form.get("message") or "").strip() or f"Update {path}"
    create_pr = form.get("create_pr") == "1" or not access.can_write(caller, repo)
    description = str(form.get("description") or "").strip()
    info = commit_text(
        session, store, caller, repo, revision, path, text, message, create_pr=create_pr,
        description=description,
    )  # fmt: skip
    if info.pr_num:
        return see_other(f"{repo_path(repo)}/discussions/{info.pr_num}")
    target = "" if path == "README.md" else f"/blob/{quote(revision, safe='')}/{quote(path)}"
    return see_other(repo_path(repo) + target)


@_register("/delete/{revision}/{path:path}", methods=("POST",))
def delete_file(
    repo: WritablePageRepo, session: SessionDep, store: StoreDep, caller: PageCaller,
    form: CheckedForm, revision: str, path: str,
) -> Response:  # fmt: skip
    revision, path = unquote(revision), unquote(path)
    commit_ops(session, store, caller, repo, revision, [DeleteFile(path)], f"Delete {path}")
    parent = path.rpartition("/")[0]
    return see_other(
        f"{repo_path(repo)}/tree/{quote(revision, safe='')}/{quote(parent)}".rstrip("/")
    )
