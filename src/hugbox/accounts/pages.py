"""Account pages that show what accounts own or must not clash with: sign up, new
organizations (account names must not shadow legacy repo ids) and profiles (an account's repos).
They join auth with repos, so they live above both."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from hugbox import audit
from hugbox.accounts import api as account_api
from hugbox.accounts import audit_log
from hugbox.audit import AuditQuery
from hugbox.auth import service
from hugbox.auth.models import Account, AccountKind
from hugbox.auth.pages import form_field, require_user, see_other, start_session
from hugbox.auth.sessions import PageCaller
from hugbox.deps import SessionDep, SettingsDep
from hugbox.errors import BadRequest, HubError
from hugbox.repos import service as repos
from hugbox.repos.models import Repo, RepoType
from hugbox.web.session import CheckedForm
from hugbox.web.templates import render

router = APIRouter(tags=["pages"])
profile_router = APIRouter(tags=["pages"])


@router.get("/join")
def join_page(request: Request, caller: PageCaller) -> Response:
    return render(request, "join.html", error=None, username="", email="")


@router.post("/join")
def join(request: Request, session: SessionDep, caller: PageCaller, form: CheckedForm) -> Response:
    username, email, password = (
        form_field(form, "username"),
        form_field(form, "email"),
        form.get("password"),
    )
    try:
        if len(str(password or "")) < 8:
            raise BadRequest("Choose a password of at least 8 characters.")
        repos.check_not_legacy_id(session, username)
        service.create_user(session, name=username, password=str(password), email=email or None)
    except HubError as exc:
        return render(
            request, "join.html", status_code=exc.status_code, error=exc.message,
            username=username, email=email,
        )  # fmt: skip
    return start_session(request, session, username, f"/{quote(username)}")


@router.get("/organizations/new")
def new_org_page(request: Request, caller: PageCaller) -> Response:
    require_user(caller)
    return render(request, "new_org.html", error=None, name="")


@router.post("/organizations/new")
def create_org(
    request: Request, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    user = require_user(caller)
    name = form_field(form, "name")
    try:
        repos.check_not_legacy_id(session, name)
        service.create_org(
            session, name=name, owner=user.name, fullname=form_field(form, "fullname")
        )
    except HubError as exc:
        return render(
            request, "new_org.html", status_code=exc.status_code, error=exc.message, name=name
        )
    return see_other(f"/organizations/{quote(name)}/members")


def _profile_sections(
    request: Request, session: SessionDep, caller: PageCaller, account: Account, page_size: int
) -> dict[RepoType, list[Repo]]:
    sections = {}
    hidden = request.app.state.repo_hooks.unreachable_orgs(session, caller)
    for repo_type in RepoType:
        query = repos.RepoQuery(
            repo_type=repo_type, search=[], author=account.name, sort="lastModified"
        )
        sections[repo_type] = repos.list_repos(
            session,
            caller=caller,
            hidden_owners=hidden,
            query=query,
            offset=0,
            page_size=page_size,
        )
    return sections


@profile_router.get("/{namespace}")
def profile(
    request: Request,
    session: SessionDep,
    caller: PageCaller,
    settings: SettingsDep,
    namespace: str,
) -> Response:
    account = service.get_account(session, namespace)
    sections = _profile_sections(request, session, caller, account, settings.list_page_size)
    is_org = account.kind == AccountKind.ORG
    members = service.list_members(session, org=account) if is_org else []
    orgs = [] if is_org else service.list_orgs(session, user=account)
    return render(
        request, "profile.html", account=account, sections=sections, members=members, orgs=orgs
    )


def _audit_page(
    request: Request, session: Session, query: AuditQuery, *, title: str, export_url: str
) -> Response:
    before = request.query_params.get("before")
    entries = audit.list_entries(
        session, query, before=int(before) if before and before.isdigit() else None
    )
    params = {k: v for k, v in request.query_params.items() if k != "before"}
    older = None
    if len(entries) == audit.PAGE:
        older = "?" + urlencode({**params, "before": str(entries[-1].id)})
    return render(
        request, "audit_log.html", title=title, entries=[audit.as_json(e) for e in entries],
        filters=params, older=older, export_url=f"{export_url}?{urlencode(params)}",
    )  # fmt: skip


@router.get("/organizations/{org}/settings/audit-log")
def org_audit_log_page(
    request: Request, session: SessionDep, caller: PageCaller, org: str
) -> Response:
    query = audit_log.org_query(session, caller, org, audit_log.filters(request))
    path = f"/organizations/{quote(org)}/settings/audit-log.jsonl"
    return _audit_page(request, session, query, title=f"{org} · audit log", export_url=path)


@router.get("/organizations/{org}/settings/audit-log.jsonl")
def org_audit_log_export(
    request: Request, session: SessionDep, caller: PageCaller, org: str
) -> Response:
    query = audit_log.org_query(session, caller, org, audit_log.filters(request))
    return account_api.export(request, query, query.namespace or org)


@router.get("/admin/audit-log")
def site_audit_log_page(request: Request, session: SessionDep, caller: PageCaller) -> Response:
    query = audit_log.site_query(caller, audit_log.filters(request))
    return _audit_page(
        request, session, query, title="Audit log", export_url="/admin/audit-log.jsonl"
    )


@router.get("/admin/audit-log.jsonl")
def site_audit_log_export(request: Request, caller: PageCaller) -> Response:
    return account_api.export(
        request, audit_log.site_query(caller, audit_log.filters(request)), "hub"
    )
