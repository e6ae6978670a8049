"""Repo lifecycle: find with access checks, create, delete, move, settings, listing."""

from __future__ import annotations

import shutil
from collections.abc import Collection
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, lazyload

from hugbox import audit
from hugbox.auth.models import Account, AccountKind, TokenRole
from hugbox.auth.scopes import Permission, Scope, Target
from hugbox.auth.service import (
    ANONYMOUS_BEARER,
    BEARER_BY_HASH,
    Bearer,
    Caller,
    Principal,
    bearer_of,
    find_account,
    hash_token,
    require,
)
from hugbox.errors import (
    AuthenticationRequired,
    BadRequest,
    Conflict,
    DisabledRepo,
    Forbidden,
    GatedRepo,
    NotFound,
    RepoExists,
    RepoNotFound,
)
from hugbox.events import service as events
from hugbox.names import check_name
from hugbox.repos import access, announce, indexer
from hugbox.repos.gitattributes import default_gitattributes
from hugbox.repos.models import Repo, RepoFields, RepoRecord, RepoRedirect, RepoType
from hugbox.repos.store import RepoStore
from hugbox.storage import git


class Need(Enum):
    READ = "read"  # info, listings
    DOWNLOAD = "download"  # file content: gated repos need a grant
    CONTRIBUTE = "contribute"  # open discussions and pull requests: any reader, with a write token
    WRITE = "write"


# What each changing need does, in the words of the 403 it answers.
_CHANGES = {Need.CONTRIBUTE: "open discussions or pull requests on", Need.WRITE: "write to"}


@dataclass(frozen=True)
class Moved:
    """The id asked for is an old one; the repo now lives at `repo.repo_id`."""

    repo: Repo


# Built once: nearly every request finds a repo, and building a select costs as much as running
# it. Nor does it load what requests seldom read: the owner's row and the card's metadata (JSON
# to parse) load on first use.
_REPO_BY_ID = (
    select(Repo)
    .where(Repo.type == bindparam("type"), Repo.id_lower == bindparam("key"))
    .options(lazyload(Repo.owner), defer(Repo.card_data))
)
_REDIRECT_BY_ID = select(RepoRedirect).where(
    RepoRedirect.type == bindparam("type"), RepoRedirect.old_id_lower == bindparam("key")
)


def find_repo(session: Session, repo_type: RepoType, repo_id: str) -> Repo | Moved | None:
    params = {"type": repo_type, "key": repo_id.lower()}
    repo = session.scalar(_REPO_BY_ID, params)
    if repo is not None:
        return repo
    redirect = session.scalar(_REDIRECT_BY_ID, params)
    return Moved(redirect.repo) if redirect else None


# A Core select of a `RepoRecord`'s columns (the mapper knows each attribute's column).
_RECORD_BY_ID = select(*(Repo.__mapper__.columns[f.name] for f in fields(RepoRecord))).where(
    Repo.__table__.c.type == bindparam("type"), Repo.__table__.c.id_lower == bindparam("key")
)


def find_record(connection: Connection, repo_type: RepoType, repo_id: str) -> RepoRecord | None:
    """The repo's row under its current id as a `RepoRecord` (no ORM object): the lookup of
    the most frequent routes. An old id (a move, a legacy id) is `find_repo`'s to follow."""
    params = {"type": repo_type, "key": repo_id.lower()}
    row = connection.execute(_RECORD_BY_ID, params).first()
    return None if row is None else RepoRecord(*row)


_RECORD_FIELDS = len(fields(RepoRecord))
# The caller and the repo in one statement: both outer-joined to a row of one, so that either
# missing is a row of nulls on its side, and the repo's columns repeat on each membership's row.
_ONE, _RECORD, _BEARER = (
    select(literal_column("1")).subquery(),
    _RECORD_BY_ID.subquery(),
    BEARER_BY_HASH.subquery(),
)
_BEARER_AND_RECORD = select(*_RECORD.c, *_BEARER.c).select_from(
    _ONE.outerjoin(_RECORD, true()).outerjoin(_BEARER, true())
)


def find_bearer_and_record(
    connection: Connection, token: str | None, repo_type: RepoType, repo_id: str
) -> tuple[Bearer, RepoRecord | None]:
    """`find_bearer` and `find_record`, in one statement when there is a token: the first
    lookup of model_info and of each file's HEAD and GET. A bad token is an error first."""
    if not token:
        return ANONYMOUS_BEARER, find_record(connection, repo_type, repo_id)
    params = {"token_hash": hash_token(token), "type": repo_type, "key": repo_id.lower()}
    rows = connection.execute(_BEARER_AND_RECORD, params).all()
    bearer = bearer_of([row[_RECORD_FIELDS:] for row in rows])
    record = rows[0][:_RECORD_FIELDS]
    return bearer, None if record[0] is None else RepoRecord(*record)


AnyRepo = TypeVar("AnyRepo", bound=RepoFields)


def authorize(
    session: Session | Connection, caller: Principal, repo: AnyRepo, need: Need, *,
    repo_url: str = "",
) -> AnyRepo:  # fmt: skip
    """Return the repo if the caller may do `need` on it; raise the error HF would give."""
    if not access.can_read(caller, repo):
        raise RepoNotFound(anonymous=caller.anonymous)
    if repo.disabled and need is not Need.READ:
        raise DisabledRepo()
    if need is Need.DOWNLOAD and not access.can_download(session, caller, repo):
        raise GatedRepo(
            repo_id=repo.repo_id,
            repo_type=repo.type.value,
            anonymous=caller.anonymous,
            repo_url=repo_url,
            request=access.request_status(session, caller, repo),
        )
    if need in _CHANGES:
        _authorize_change(caller, repo, need)
    return repo


def authorize_upload(session: Session, caller: Caller, repo: Repo, *, create_pr: bool) -> None:
    """Refuse an upload at preupload, before any byte travels, as HF does: anonymous callers
    and read tokens never upload, and without write access only a pull request may."""
    if caller.anonymous and access.can_read(caller, repo):
        raise AuthenticationRequired(f"Log in (pass a write token) to upload to {repo.repo_id}")
    authorize(session, caller, repo, Need.READ)  # a repo one may not see stays unseen
    if not create_pr and access.can_write(caller, repo):
        authorize(session, caller, repo, Need.WRITE)  # a disabled repo takes no commit
        return
    # What a pull request needs (a readable, enabled repo and a token for it) comes first.
    authorize(session, caller, repo, Need.CONTRIBUTE)
    if not create_pr:
        raise Forbidden(
            f"You don't have the rights to write to {repo.repo_id}: "
            "pass `create_pr=1` as a query parameter to create a Pull Request"
        )


def _authorize_change(caller: Principal, repo: RepoFields, need: Need) -> None:
    """Token role and repo permission are two checks: a read token changes nothing, and a
    write token writes only where its user may (anyone who reads may open a pull request)."""
    action = f"{_CHANGES[need]} {repo.repo_id}"
    if caller.anonymous and need is Need.CONTRIBUTE:
        raise AuthenticationRequired(f"Log in (pass a token) to {action}")
    permission = Permission.REPO_WRITE if need is Need.WRITE else Permission.DISCUSSION_WRITE
    require(caller, permission, access.target(repo), action)
    if need is Need.WRITE and not access.can_write(caller, repo):
        raise Forbidden(f"You don't have the rights to {action}")


def create_repo(
    session: Session,
    store: RepoStore,
    *,
    caller: Caller,
    repo_type: RepoType,
    namespace: str | None,
    name: str,
    private: bool = False,
    sdk: str | None = None,
) -> Repo:
    """Create a repo with HF's initial commit (a default .gitattributes, by the creator)."""
    if caller.user is None:
        raise RepoNotFound(anonymous=True)
    owner = _namespace_account(session, caller, namespace or caller.user.name)
    check_name(name, what="repo")
    repo_id = f"{owner.name}/{name}"
    existing = find_repo(session, repo_type, repo_id)
    if isinstance(existing, Repo):
        raise _exists(existing)
    if isinstance(existing, Moved):
        _drop_redirect(session, repo_type, repo_id)
    if repo_type is RepoType.SPACE and not sdk:
        raise BadRequest("Creating a Space needs an `sdk`: gradio, streamlit, docker or static")
    repo = Repo(
        type=repo_type,
        namespace=owner.name,
        name=name,
        id_lower=repo_id.lower(),
        owner_id=owner.id,
        created_by_id=caller.user.id,
        private=private,
        sdk=sdk,
    )
    _insert(session, repo)
    head = _init_git(store, repo, caller.user)
    indexer.refresh(session, store, repo)
    announce.record_ref(session, repo, ref=events.MAIN_REF, commit=head)
    announce.announce(session, repo, events.REPO_CREATED, head=head)
    return repo


def _exists(repo: Repo) -> RepoExists:
    return RepoExists(repo_type=repo.type.value, url_path=f"{repo.type.url_prefix}{repo.repo_id}")


def _insert(session: Session, repo: Repo) -> None:
    """Add the row; a concurrent create of the same id loses on the unique index and gets the
    409 of a repo that exists (which `exist_ok=True` clients accept)."""
    session.add(repo)
    try:
        session.flush()
    except IntegrityError:
        raise _exists(repo) from None


def _namespace_account(session: Session, caller: Caller, namespace: str) -> Account:
    action = f"create a repo under {namespace!r}"
    require(caller, Permission.REPO_WRITE, Target(namespace), action)
    owner = find_account(session, namespace)
    if owner is None or not access.can_create_in(caller, owner):
        raise Forbidden(f"You don't have the rights to create a repo under {namespace!r}")
    return owner


def _init_git(store: RepoStore, repo: Repo, author: Account) -> str:
    git_dir = store.git_dir(repo)
    if git_dir.exists():  # left over by a crash before the DB commit
        shutil.rmtree(git_dir)
    gitrepo = store.init(repo)
    blob = git.write_blob(gitrepo, default_gitattributes(repo.type.value).encode())
    tree = git.build_tree(gitrepo, None, [git.Put(".gitattributes", blob)])
    commit = git.write_commit(
        gitrepo,
        tree_oid=tree,
        parents=[],
        author_name=author.name,
        author_email=author_email(author),
        message="initial commit",
    )
    git.set_ref(gitrepo, events.MAIN_REF, commit, old=None)
    return commit


def author_email(user: Account) -> str:
    """The e-mail of `user`'s commits: their own, else a no-reply address of the hub."""
    return user.email or f"{user.name}@users.noreply.hugbox"


def delete_repo(
    session: Session, store: RepoStore, *, repo: Repo, actor: str | None = None
) -> None:
    # The repo's lock before its rows: a writer holds the lock while it records its change on
    # the repo's rows, so the other order could wait for a writer that waits for us. A delete
    # cut short after this finds the repo gone from disk, and ends its rows when asked again.
    # Blobs stay: other repos may share them (content-addressed); a GC job reclaims orphans.
    store.remove(repo, session)
    announce.announce(session, repo, events.REPO_DELETED)
    audit.record(session, "repo.delete", actor=actor, namespace=repo.namespace, repo=_named(repo))
    session.delete(repo)
    session.flush()


def move_repo(session: Session, *, caller: Caller, repo: Repo, to_repo_id: str) -> Repo:
    namespace, _, name = to_repo_id.partition("/")
    if not namespace or not name:
        raise BadRequest(f"Invalid repo id {to_repo_id!r}: expected 'namespace/name'")
    check_name(name, what="repo")
    owner = _namespace_account(session, caller, namespace)
    existing = find_repo(session, repo.type, to_repo_id)
    if isinstance(existing, Repo) and existing.pk != repo.pk:
        raise Conflict(f"A {repo.type.value} repository called {to_repo_id} already exists")
    if isinstance(existing, Moved):
        _drop_redirect(session, repo.type, to_repo_id)
    session.add(RepoRedirect(type=repo.type, old_id_lower=repo.id_lower, repo_pk=repo.pk))
    old_id = repo.repo_id
    repo.namespace, repo.name, repo.owner_id = owner.name, name, owner.id
    repo.id_lower = f"{owner.name}/{name}".lower()
    session.flush()
    announce.announce(session, repo, events.REPO_MOVED, old_id=old_id, new_id=repo.repo_id)
    actor = caller.user.name if caller.user else None
    for namespace in dict.fromkeys((old_id.partition("/")[0], repo.namespace)):  # both see it
        audit.record(session, "repo.move", actor=actor, namespace=namespace, repo=_named(repo),
                     old_id=old_id, new_id=repo.repo_id)  # fmt: skip
    return repo


def _named(repo: Repo) -> tuple[str, str]:
    return repo.type.value, repo.repo_id


def add_alias(session: Session, *, repo: Repo, alias: str) -> None:
    """Let a legacy id without namespace (`gpt2`) lead to `repo`, as HF's canonical ids do."""
    check_name(alias, what="repo")
    if find_account(session, alias) is not None:
        raise Conflict(f"{alias!r} is an account name and cannot be a legacy repo id")
    _drop_redirect(session, repo.type, alias)
    session.add(RepoRedirect(type=repo.type, old_id_lower=alias.lower(), repo_pk=repo.pk))
    session.flush()


def check_not_legacy_id(session: Session, name: str) -> None:
    """Account names must not shadow legacy ids: `/gpt2/...` would become ambiguous."""
    taken = session.scalar(
        select(RepoRedirect.id).where(RepoRedirect.old_id_lower == name.lower()).limit(1)
    )
    if taken is not None:
        raise Conflict(f"{name!r} is a legacy repo id (like `gpt2`) and cannot name an account")


def _drop_redirect(session: Session, repo_type: RepoType, repo_id: str) -> None:
    redirect = session.scalar(
        select(RepoRedirect).where(
            RepoRedirect.type == repo_type, RepoRedirect.old_id_lower == repo_id.lower()
        )
    )
    if redirect is not None:
        session.delete(redirect)
        session.flush()


def update_settings(
    session: Session, *, repo: Repo, private: bool | None = None, gated: Any = None,
    actor: str | None = None,
) -> Repo:  # fmt: skip
    before = {"private": repo.private, "gated": repo.gated}
    if private is not None:
        repo.private = private
    if gated is not None:
        if gated not in (False, "auto", "manual"):
            raise BadRequest("`gated` must be false, 'auto' or 'manual'")
        repo.gated = gated or None
    session.flush()
    after = {"private": repo.private, "gated": repo.gated}
    changed = {name: [old, after[name]] for name, old in before.items() if old != after[name]}
    if changed:
        announce.announce(session, repo, events.REPO_UPDATED, **changed)
        audit.record(session, "repo.settings", actor=actor, namespace=repo.namespace,
                     repo=_named(repo), **changed)  # fmt: skip
    return repo


@dataclass(frozen=True)
class RepoQuery:
    repo_type: RepoType
    search: list[str]
    author: str | None = None
    filters: tuple[str, ...] = ()
    sort: str | None = None
    gated: bool | None = None
    pipeline_tag: str | None = None
    limit: int | None = None


_SORT_COLUMNS = {
    "downloads": Repo.downloads,
    "likes": Repo.likes,
    "lastModified": Repo.last_modified,
    "last_modified": Repo.last_modified,
    "createdAt": Repo.created_at,
    "created_at": Repo.created_at,
    "downloadsAllTime": Repo.downloads_all_time,
    "trendingScore": Repo.trending_score,
    "trending_score": Repo.trending_score,
}


def list_repos(
    session: Session,
    *,
    caller: Caller,
    hidden_owners: Collection[int],
    query: RepoQuery,
    offset: int,
    page_size: int,
) -> list[Repo]:
    """One page of the repos the caller may see that match `query`. `hidden_owners`: orgs whose
    private repos stay out although the caller is a member (`RepoHooks.unreachable_orgs`)."""
    stmt = _visible(select(Repo).where(Repo.type == query.repo_type), caller, hidden_owners)
    for term in query.search:
        stmt = stmt.where(Repo.id_lower.contains(term.lower(), autoescape=True))
    if query.author:
        stmt = stmt.where(func.lower(Repo.namespace) == query.author.lower())
    if query.gated is not None:
        stmt = stmt.where(Repo.gated.is_not(None) if query.gated else Repo.gated.is_(None))
    if query.pipeline_tag:
        stmt = stmt.where(Repo.pipeline_tag == query.pipeline_tag)
    order = _SORT_COLUMNS.get(query.sort or "", Repo.created_at)
    stmt = stmt.order_by(order.desc(), Repo.pk.desc())
    if not query.filters:
        return list(session.scalars(stmt.offset(offset).limit(page_size)))
    # Tag filters match JSON lists, which only Python matches the same on SQLite and PostgreSQL.
    repos = [r for r in session.scalars(stmt) if all(_matches_filter(r, f) for f in query.filters)]
    return repos[offset : offset + page_size]


def _matches_filter(repo: Repo, value: str) -> bool:
    value = value.lower()
    return (
        value in (t.lower() for t in repo.tags)
        or value == (repo.pipeline_tag or "").lower()
        or value == (repo.library_name or "").lower()
        or value == repo.id_lower
    )


@dataclass(frozen=True)
class OwnedRepos:
    repos: list[Repo]
    total_storage: int  # bytes, over every repo of the namespace (the page's share is of this)


def list_owned_repos(
    session: Session, *, caller: Caller, namespace: str | None, unreachable: Collection[int],
    offset: int, page_size: int,
) -> OwnedRepos:  # fmt: skip
    """A namespace's own repos, private ones included, for its settings: its members only, and
    not those that may not reach the org's private repos (`unreachable`: require SSO)."""
    owner = _settings_owner(session, caller, namespace, unreachable)
    owned = select(Repo).where(Repo.owner_id == owner.id)
    stmt = owned.order_by(Repo.last_modified.desc(), Repo.pk.desc()).offset(offset)
    total = select(func.coalesce(func.sum(Repo.used_storage), 0)).where(Repo.owner_id == owner.id)
    return OwnedRepos(list(session.scalars(stmt.limit(page_size))), session.scalar(total) or 0)


def _settings_owner(
    session: Session, caller: Caller, namespace: str | None, unreachable: Collection[int]
) -> Account:
    if caller.user is None:
        raise AuthenticationRequired("Log in (pass a token) to list your repositories")
    if namespace is None:
        return caller.user
    org = find_account(session, namespace)
    if org is None or org.kind != AccountKind.ORG:
        raise NotFound(f"No organization named {namespace!r}")
    if caller.org_role(org.id) is None and not caller.user.is_admin:
        raise Forbidden(f"Only members of {org.name} can list its repositories")
    if org.id in unreachable:
        raise Forbidden(
            f"{org.name} requires single sign-on: sign in with {org.name} SSO at "
            f"/organizations/{org.name}/sso to list its repositories"
        )
    return org


def _visible(stmt: Select[Repo], caller: Caller, hidden_owners: Collection[int]) -> Select[Repo]:
    """The repos `access.can_read` lets the caller see: public ones, and private ones of its
    user or orgs (all for an admin) that its token reads, except the orgs in `hidden_owners`."""
    if caller.user is None:
        return stmt.where(Repo.private.is_(False))
    reachable: list[ColumnElement[bool]] = []
    if not caller.user.is_admin:
        owners = [caller.user.id] + [m.org_id for m in caller.user.memberships]
        reachable.append(Repo.owner_id.in_(set(owners) - set(hidden_owners)))
    if caller.token_role == TokenRole.FINE_GRAINED:
        reachable.append(_scope_reads(caller.scope))
    return stmt.where(or_(Repo.private.is_(False), and_(true(), *reachable)))


def _scope_reads(scope: Scope | None) -> ColumnElement[bool]:
    """The private repos a fine-grained token may read: those its scope names, by namespace or
    one by one."""
    namespaces, repos = scope.readable() if scope is not None else (frozenset(), frozenset())
    named = [and_(Repo.type == RepoType(kind), Repo.id_lower == repo_id) for kind, repo_id in repos]
    return or_(false(), func.lower(Repo.namespace).in_(namespaces), *named)


def set_counters(
    session: Session, *, repo_pk: int, downloads: int, downloads_all_time: int,
    trending_score: int,
) -> None:  # fmt: skip
    """The usage part's counters, kept on the row so that listings sort by them."""
    session.execute(
        update(Repo)
        .where(Repo.pk == repo_pk)
        .values(
            downloads=downloads,
            downloads_all_time=downloads_all_time,
            trending_score=trending_score,
        )
    )


def set_used_storage(session: Session, *, repo_pk: int, used_storage: int) -> None:
    """The bytes the usage part measured the repo to hold (`usedStorage`, quotas)."""
    session.execute(update(Repo).where(Repo.pk == repo_pk).values(used_storage=used_storage))
