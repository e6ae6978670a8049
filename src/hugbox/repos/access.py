"""Who may read, download, write or administer a repo, and in which namespaces one may create."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.auth.models import Account, AccountKind, OrgRole
from hugbox.auth.service import Caller
from hugbox.repos.models import AccessGrant, Repo


def _member_role(caller: Caller, repo: Repo) -> OrgRole | None:
    return caller.org_role(repo.owner_id)


def _is_owner(caller: Caller, repo: Repo) -> bool:
    return caller.user is not None and (caller.user.id == repo.owner_id or caller.user.is_admin)


def can_read(caller: Caller, repo: Repo) -> bool:
    if not repo.private:
        return True
    return _is_owner(caller, repo) or _member_role(caller, repo) is not None


def can_download(session: Session, caller: Caller, repo: Repo) -> bool:
    """Gated repos show their info to all but their files only to granted users and members."""
    if not can_read(caller, repo):
        return False
    if not repo.gated or _is_owner(caller, repo) or _member_role(caller, repo) is not None:
        return True
    if caller.user is None:
        return False
    status = session.scalar(
        select(AccessGrant.status).where(
            AccessGrant.repo_pk == repo.pk, AccessGrant.user_id == caller.user.id
        )
    )
    return status == "accepted"


def can_write(caller: Caller, repo: Repo) -> bool:
    if not caller.can_write or caller.user is None:
        return False
    if _is_owner(caller, repo):
        return True
    role = _member_role(caller, repo)
    if role is None:
        return False
    # Contributors write to the repos they created, and open PRs elsewhere.
    created_it = repo.created_by_id == caller.user.id
    return role.rank >= OrgRole.WRITE.rank or (role == OrgRole.CONTRIBUTOR and created_it)


def can_create_in(caller: Caller, namespace: Account) -> bool:
    if not caller.can_write or caller.user is None:
        return False
    if caller.user.id == namespace.id or caller.user.is_admin:
        return True
    role = caller.org_role(namespace.id) if namespace.kind == AccountKind.ORG else None
    return role is not None and role.rank >= OrgRole.CONTRIBUTOR.rank
