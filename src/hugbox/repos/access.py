"""Who may read, download, write or administer a repo, and in which namespaces one may create."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from hugbox.auth.models import Account, AccountKind, OrgRole
from hugbox.auth.scopes import Permission, Target
from hugbox.auth.service import Caller, Principal
from hugbox.repos.models import AccessGrant, RepoFields


def target(repo: RepoFields) -> Target:
    """The repo as a token's scope names it: its type and id, under its namespace."""
    return Target(repo.namespace, repo.type.value, repo.repo_id)


def may(caller: Principal, permission: str, repo: RepoFields) -> bool:
    """The one question every route asks: may this caller do `permission` on `repo`? The
    token must allow it (a read token reads, a write token does anything, a fine-grained one
    what it lists) and the user must be allowed it (owner, org role, a public repo)."""
    if permission == Permission.REPO_CONTENT_READ:
        return can_read(caller, repo)
    if permission == Permission.REPO_WRITE:
        return can_write(caller, repo)
    return can_read(caller, repo) and caller.allows(permission, target(repo))


def _member_role(caller: Principal, repo: RepoFields) -> OrgRole | None:
    return caller.org_role(repo.owner_id)


def _is_owner(caller: Principal, repo: RepoFields) -> bool:
    return caller.user_id is not None and (caller.user_id == repo.owner_id or caller.is_admin)


def can_read(caller: Principal, repo: RepoFields) -> bool:
    """Anyone reads a public repo; a private one needs its user's access and a token that
    allows `repo.content.read` on it (else it stays as unseen as for a stranger)."""
    if not repo.private:
        return True
    if not (_is_owner(caller, repo) or _member_role(caller, repo) is not None):
        return False
    return caller.allows(Permission.REPO_CONTENT_READ, target(repo))


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
    return _reads_gated(caller, repo) and request_status(session, caller, repo) == "accepted"


def _reads_gated(caller: Principal, repo: RepoFields) -> bool:
    """A fine-grained token reads others' gated repos (once granted) only with
    `canReadGatedRepos`, or `repo.content.read` on that repo."""
    scope = caller.scope
    if scope is None:  # not a fine-grained token
        return True
    return scope.can_read_gated or scope.allows(Permission.REPO_CONTENT_READ, target(repo))


def request_status(
    session: Session | Connection, caller: Principal, repo: RepoFields
) -> str | None:
    """The status of the caller's access request to a gated repo (None: never asked)."""
    if caller.user_id is None:
        return None
    return session.scalar(_GRANT_STATUS, {"repo_pk": repo.pk, "user_id": caller.user_id})


def can_write(caller: Principal, repo: RepoFields) -> bool:
    if caller.user_id is None or not caller.allows(Permission.REPO_WRITE, target(repo)):
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
    if caller.user is None or not caller.allows(Permission.REPO_WRITE, Target(namespace.name)):
        return False
    if caller.user.id == namespace.id or caller.user.is_admin:
        return True
    role = caller.org_role(namespace.id) if namespace.kind == AccountKind.ORG else None
    return role is not None and role.rank >= OrgRole.CONTRIBUTOR.rank
