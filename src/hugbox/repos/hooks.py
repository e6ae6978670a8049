"""How other parts extend repos' own routes and pages without repos importing them.

A space's info carries its runtime, a tree listing carries Xet hashes, a duplicated space keeps
its variables: each is another part's knowledge, added where repos answers. The part hands its
functions to `RepoHooks` in `create_app`; repos calls them in the request, inside its
transaction, so what they add is there when the response is. What other parts only need to
hear about afterwards goes through repo events instead (`repos/announce.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from hugbox.auth.service import Caller, Principal
from hugbox.db import Work
from hugbox.repos.models import Repo, RepoFields, RepoType

# Fields added to `model_info` / `dataset_info` / `space_info`, by repo type.
InfoFields = Callable[[Request, Session, RepoFields], dict[str, Any]]
# Options of create_repo and duplicate_repo that belong to another part (a space's hardware,
# sleep time, secrets and variables), as the client sent them.
Configure = Callable[[Session, Repo, dict[str, Any]], None]
# A repo copied by duplicate_repo: (source, copy).
Copied = Callable[[Session, Repo, Repo], None]
# Entries of a tree listing or paths-info, as the JSON the client gets.
Listing = Callable[[Request, Session, Repo, list[dict[str, Any]]], list[dict[str, Any]]]
# Headers of a large file's download: (repo, sha256, commit id), read on the request's
# connection (a download is among the most frequent calls: no ORM session for it).
DownloadHeaders = Callable[[Request, Connection, RepoFields, str, str], dict[str, str]]
# A section of a repo page, handed to its template under the section's name.
PageSection = Callable[[Request, Session, Repo], Any]
# A file of the repo served by `/resolve/` (GET or HEAD): (request, repo, path). Called on the
# request path of every download: it must only note it (usage counts off the request path).
Downloaded = Callable[[Request, RepoFields, str], None]
# An upload of `size` more bytes to the repo, asked before any byte travels (preupload, LFS
# batch, a Xet write token): raises a HubError to refuse it (a storage quota).
UploadCheck = Callable[[Session, Repo, int], None]
# What another part says about the files of a listing or a file page, by path (a scan's badge).
FileBadges = Callable[[Session, list[Any]], dict[str, Any]]
# A further condition on reaching a repo the caller may otherwise reach (an org's "require SSO"):
# raises a HubError to refuse. Called on every repo a route loads: it must be cheap when it
# does not apply.
AccessCheck = Callable[[Session | Connection, Principal, RepoFields], None]
# The orgs whose private repos the caller may not reach although a member (an org's "require
# SSO" not yet satisfied): listings leave them out, as `access_check` refuses them.
Unreachable = Callable[[Session, Caller], Collection[int]]


@dataclass
class RepoHooks:
    info_fields: dict[RepoType, list[InfoFields]] = field(default_factory=dict)
    configure: list[Configure] = field(default_factory=list)
    copied: list[Copied] = field(default_factory=list)
    listing: list[Listing] = field(default_factory=list)
    download_headers: list[DownloadHeaders] = field(default_factory=list)
    repo_page: dict[str, PageSection] = field(default_factory=dict)
    settings_page: dict[str, PageSection] = field(default_factory=dict)
    downloaded: list[Downloaded] = field(default_factory=list)
    upload_check: list[UploadCheck] = field(default_factory=list)
    file_badges: list[FileBadges] = field(default_factory=list)
    access_check: list[AccessCheck] = field(default_factory=list)
    unreachable: list[Unreachable] = field(default_factory=list)

    def check_access(self, db: Session | Connection, caller: Principal, repo: RepoFields) -> None:
        for check in self.access_check:
            check(db, caller, repo)

    def unreachable_orgs(self, session: Session, caller: Caller) -> set[int]:
        return {org for find in self.unreachable for org in find(session, caller)}

    def reader(self, session: Session, caller: Caller) -> Caller:
        """The caller as listings outside this domain judge it (collections, likes): a stranger
        to the orgs it may not reach although a member."""
        return caller.without_orgs(self.unreachable_orgs(session, caller))

    def info(self, request: Request, work: Work, repo: RepoFields) -> dict[str, Any]:
        """What the hooks of the repo's type add (their ORM session is opened only for them)."""
        fields: dict[str, Any] = {}
        for add in self.info_fields.get(repo.type, ()):
            fields.update(add(request, work.session, repo))
        return fields

    def listed(
        self, request: Request, session: Session, repo: Repo, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        for extend in self.listing:
            items = extend(request, session, repo, items)
        return items

    def headers(
        self, request: Request, work: Work, repo: RepoFields, sha256: str, revision: str
    ) -> dict[str, str]:
        headers: dict[str, str] = {}
        for add in self.download_headers:
            headers.update(add(request, work.connection, repo, sha256, revision))
        return headers

    def download(self, request: Request, repo: RepoFields, path: str) -> None:
        for note in self.downloaded:
            note(request, repo, path)

    def check_upload(self, session: Session, repo: Repo, size: int) -> None:
        for check in self.upload_check:
            check(session, repo, size)

    def badges(self, session: Session, entries: list[Any]) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        for badges in self.file_badges:
            for path, badge in badges(session, entries).items():
                found.setdefault(path, []).append(badge)
        return found

    def sections(
        self, page: dict[str, PageSection], request: Request, session: Session, repo: Repo
    ) -> dict[str, Any]:
        return {name: section(request, session, repo) for name, section in page.items()}


NO_HOOKS = RepoHooks()


def hooks_of(request: Request) -> RepoHooks:
    hooks: RepoHooks = getattr(request.app.state, "repo_hooks", NO_HOOKS)
    return hooks


async def get_hooks(request: Request) -> RepoHooks:
    return hooks_of(request)


HooksDep = Annotated[RepoHooks, Depends(get_hooks)]
