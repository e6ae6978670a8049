"""Who may read, download, write or administer a repo, and in which namespaces one may create."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from hugbox.auth.models import Account, AccountKind, OrgRole
from hugbox.auth.service import Caller, Principal
from hugbox.repos.models import AccessGrant, RepoFields


def _member_role(caller: Principal, repo: RepoFields) -> OrgRole | None:
    return caller.org_role(repo.owner_id)


def _is_owner(caller: Principal, repo: RepoFields) -> bool:
    return caller.user_id is not None and (caller.user_id == repo.owner_id or caller.is_admin)


def can_read(caller: Principal, repo: RepoFields) -> bool:
    if not repo.private:
        return True
    return _is_owner(caller, repo) or _member_role(caller, repo) is not None


# Built once, as the other lookups of the most frequent routes.
_GRANT_STATUS = select(AccessGrant.__table__.c.status).where(
    AccessGrant.__table__.c.repo_pk == bindparam("repo_pk"),
    AccessGrant.__table__.c.user_id == bindparam("user_id"),
)


def can_download(session: Session | Connection, caller: Principal, repo: RepoFields) -> bool:
    """Gated repos show their info to all but their files only to granted users and members."""
    if not can_read(caller, repo):
        return False
    if not repo.gated or _is_owner(caller, repo) or _member_role(caller, repo) is not None:
        return True
    return request_status(session, caller, repo) == "accepted"


def request_status(
    session: Session | Connection, caller: Principal, repo: RepoFields
) -> str | None:
    """The status of the caller's access request to a gated repo (None: never asked)."""
    if caller.user_id is None:
        return None
    return session.scalar(_GRANT_STATUS, {"repo_pk": repo.pk, "user_id": caller.user_id})


def can_write(caller: Principal, repo: RepoFields) -> bool:
    if not caller.can_write or caller.user_id is None:
        return False
    if _is_owner(caller, repo):
        return True
    role = _member_role(caller, repo)
    if role is None:
        return False
    # Contributors write to the repos they created, and open PRs elsewhere.
    created_it = repo.created_by_id == caller.user_id
    return role.rank >= OrgRole.WRITE.rank or (role == OrgRole.CONTRIBUTOR and created_it)


def can_create_in(caller: Caller, namespace: Account) -> bool:
    if not caller.can_write or caller.user is None:
        return False
    if caller.user.id == namespace.id or caller.user.is_admin:
        return True
    role = caller.org_role(namespace.id) if namespace.kind == AccountKind.ORG else None
    return role is not None and role.rank >= OrgRole.CONTRIBUTOR.rank
