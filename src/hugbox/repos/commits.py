"""Writing to a repo: preupload answers and atomic commits (the ref moves last)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pathspec
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hugbox.auth.scopes import Permission
from hugbox.auth.service import Caller
from hugbox.db import lock_in_transaction
from hugbox.errors import (
    BadRequest,
    Conflict,
    EntryNotFound,
    Forbidden,
    PreconditionFailed,
    RevisionNotFound,
    UnprocessableEntity,
)
from hugbox.events import service as events
from hugbox.repos import access, announce, indexer, lfs_index, objects
from hugbox.repos.content import resolve_revision
from hugbox.repos.gitattributes import is_lfs_path, lfs_patterns, track_line
from hugbox.repos.models import Discussion, LfsObject, Repo
from hugbox.repos.paths import check_path_in_repo
from hugbox.repos.payload import (
    AddFile,
    AddLfsFile,
    CommitHeader,
    CopyFile,
    DeleteFile,
    DeleteFolder,
    Operation,
)
from hugbox.repos.service import Need, author_email, authorize
from hugbox.repos.store import RepoStore
from hugbox.storage import git
from hugbox.storage.blobs import is_sha256

# HF stores files of 10 MB and more as LFS whatever .gitattributes says.
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024


@dataclass(frozen=True)
class PreuploadFile:
    path: str
    size: int
    sample: bytes


@dataclass(frozen=True)
class UploadMode:
    path: str
    upload_mode: str  # "lfs" | "regular"
    should_ignore: bool
    oid: str | None


@dataclass
class _Ingest:
    """What applying operations learns on the way: paths to track as LFS, content ids."""

    patterns: tuple[str, ...]
    untracked: list[str] = field(default_factory=list)
    objects: list[LfsObject] = field(default_factory=list)
    named: set[str] = field(default_factory=set)  # large files the commit names by sha256
    claimed: set[str] = field(default_factory=set)  # those named without their bytes (lfsFile)


@dataclass(frozen=True)
class CommitInfo:
    oid: str
    pr_num: int | None = None


def _attributes(gitrepo: git.Repository, commit: git.Commit | None) -> str:
    obj = git.lookup(gitrepo, commit, ".gitattributes") if commit else None
    return obj.data.decode("utf-8", "replace") if isinstance(obj, git.Blob) else ""


def wants_lfs(path: str, size: int, patterns: tuple[str, ...]) -> bool:
    return size > 0 and (size >= LFS_SIZE_THRESHOLD or is_lfs_path(path, patterns))


def preupload(
    session: Session,
    store: RepoStore,
    *,
    repo: Repo,
    revision: str,
    files: Sequence[PreuploadFile],
    git_ignore: str | None,
    inline: bool,
) -> tuple[str, list[UploadMode]]:
    """Tell the client how to send each file, whether to skip it, and its current id; returns
    the commit `revision` resolved to, and the modes."""
    gitrepo = store.open(repo)
    commit = resolve_revision(gitrepo, revision)
    patterns = lfs_patterns(_attributes(gitrepo, commit))
    ignore_obj = git.lookup(gitrepo, commit, ".gitignore")
    ignore_text = git_ignore or (
        ignore_obj.data.decode("utf-8", "replace") if isinstance(ignore_obj, git.Blob) else ""
    )
    ignore = pathspec.GitIgnoreSpec.from_lines(ignore_text.splitlines())
    modes = []
    for file in files:
        lfs = not inline and (wants_lfs(file.path, file.size, patterns) or _binary(file))
        modes.append(
            UploadMode(
                path=file.path,
                upload_mode="lfs" if lfs else "regular",
                should_ignore=ignore.match_file(file.path),
                oid=_current_oid(session, gitrepo, commit, file.path, lfs=lfs),
            )
        )
    return str(commit.id), modes


def _binary(file: PreuploadFile) -> bool:
    return file.size > 0 and b"\x00" in file.sample


def _current_oid(
    session: Session, gitrepo: git.Repository, commit: git.Commit, path: str, *, lfs: bool
) -> str | None:
    obj = git.lookup(gitrepo, commit, path)
    if not isinstance(obj, git.Blob):
        return None
    pointer = git.parse_lfs_pointer(obj.data) if obj.size <= git.LFS_POINTER_MAX else None
    if pointer is None:
        return None if lfs else str(obj.id)
    # A large file the client sends inline is compared by the git blob id of its content.
    return pointer.oid if lfs else lfs_index.git_oid_of(session, pointer.oid)


def create_commit(
    session: Session,
    store: RepoStore,
    *,
    caller: Caller,
    repo: Repo,
    revision: str,
    header: CommitHeader,
    operations: Sequence[Operation],
    create_pr: bool,
) -> CommitInfo:
    """Apply `operations` on `revision` (or on a new PR from it) as one git commit."""
    if caller.user is None:
        raise Forbidden("Committing needs a token")
    # Anyone who may read the repo may open a pull request, but only with a write token; the
    # author of an open PR commits to its ref as a writer would (HF's upload pipeline does).
    own_pr = not create_pr and is_own_open_pr(session, caller, repo, revision)
    authorize(session, caller, repo, Need.CONTRIBUTE if create_pr or own_pr else Need.WRITE)
    gitrepo = store.open(repo)
    # A new PR's ref is written with its first commit: a refused commit leaves no empty PR ref.
    pr_num, base = (
        _open_pr(session, caller, repo, gitrepo, revision, header) if create_pr else (None, None)
    )
    ref_name = f"refs/pr/{pr_num}" if pr_num else _branch_ref(gitrepo, revision)
    with store.locked(repo, session):
        head = base or git.resolve(gitrepo, ref_name)
        if head is None:
            raise RevisionNotFound(revision)
        if header.parent_commit and not create_pr and not _same(header.parent_commit, head):
            raise PreconditionFailed()
        changes, ingest = _changes(store, gitrepo, head, operations)
        objects.require_admissible(session, caller=caller, repo=repo, oids=ingest.claimed)
        tree = _build(gitrepo, head, changes)
        oid = git.write_commit(
            gitrepo,
            tree_oid=tree,
            parents=[str(head.id)],
            author_name=caller.user.name,
            author_email=author_email(caller.user),
            message=_message(header),
        )
        git.set_ref(gitrepo, ref_name, oid, old=None if base else str(head.id))
    lfs_index.record(session, ingest.objects)
    objects.link(session, repo_pk=repo.pk, oids=ingest.named)
    if ref_name == events.MAIN_REF:
        indexer.refresh(session, store, repo)
    old = None if base else str(head.id)
    announce.ref_moved(session, repo, ref=ref_name, old=old, new=oid)
    return CommitInfo(oid=oid, pr_num=pr_num)


def is_own_open_pr(session: Session, caller: Caller, repo: Repo, revision: str) -> bool:
    """Whether `revision` is `refs/pr/<n>` of an open or draft PR that `caller` opened."""
    num = revision.removeprefix("refs/pr/")
    if caller.user is None or num == revision or not num.isdigit() or len(num) > 9:
        return False
    author = session.scalar(
        select(Discussion.author_id).where(
            Discussion.repo_pk == repo.pk, Discussion.num == int(num),
            Discussion.is_pull_request.is_(True), Discussion.status.in_(("open", "draft")),
        )
    )  # fmt: skip
    return author is not None and author == caller.user.id


def pushable_pr_refs(session: Session, caller: Caller, repo: Repo) -> list[str]:
    """The refs of the open and draft PRs `caller` may push to: theirs, or all for writers."""
    if caller.user is None:
        return []
    writer = access.can_write(caller, repo)
    if not (writer or access.may(caller, Permission.DISCUSSION_WRITE, repo)):
        return []
    query = select(Discussion.num).where(
        Discussion.repo_pk == repo.pk, Discussion.is_pull_request.is_(True),
        Discussion.status.in_(("open", "draft")),
    )  # fmt: skip
    if not writer:
        query = query.where(Discussion.author_id == caller.user.id)
    return [f"refs/pr/{num}" for num in session.scalars(query)]


def _same(parent_commit: str, head: git.Commit) -> bool:
    return len(parent_commit) >= 5 and str(head.id).startswith(parent_commit.lower())


def super_squash(
    session: Session, store: RepoStore, *, caller: Caller, repo: Repo, branch: str, message: str
) -> str:
    """Replace a branch's (or PR's) history by one commit of its current tree (HF's
    super_squash_history); other refs keep the old commits."""
    if caller.user is None:
        raise Forbidden("Squashing needs a token")
    authorize(session, caller, repo, Need.WRITE)
    gitrepo = store.open(repo)
    ref_name = _branch_ref(gitrepo, branch)
    with store.locked(repo, session):
        head = git.resolve(gitrepo, ref_name)
        if head is None:
            raise RevisionNotFound(branch)
        oid = git.write_commit(
            gitrepo, tree_oid=str(head.tree_id), parents=[], author_name=caller.user.name,
            author_email=author_email(caller.user),
            message=message,
        )  # fmt: skip
        git.set_ref(gitrepo, ref_name, oid, old=str(head.id))
    if ref_name == events.MAIN_REF:
        indexer.refresh(session, store, repo)
    announce.ref_moved(session, repo, ref=ref_name, old=str(head.id), new=oid)
    return oid


def _message(header: CommitHeader) -> str:
    summary = header.summary.strip() or "Upload files"
    return f"{summary}\n\n{header.description.strip()}\n" if header.description.strip() else summary


def _branch_ref(gitrepo: git.Repository, revision: str) -> str:
    if revision.startswith("refs/pr/"):
        name = revision
    else:
        name = f"refs/heads/{revision.removeprefix('refs/heads/')}"
    if gitrepo.references.get(name) is None:
        raise RevisionNotFound(revision)
    return name


def _open_pr(
    session: Session,
    caller: Caller,
    repo: Repo,
    gitrepo: git.Repository,
    revision: str,
    header: CommitHeader,
) -> tuple[int, git.Commit]:
    """Open the PR's discussion; returns its number and the commit its first commit builds on."""
    base = git.resolve(gitrepo, f"refs/heads/{revision}")
    if base is None:
        raise RevisionNotFound(revision)
    start = git.resolve(gitrepo, header.parent_commit) if header.parent_commit else None
    num = open_discussion(
        session, repo=repo, caller=caller, title=header.summary,
        description=header.description or "", is_pull_request=True,
        status="open",  # a commit's PR is open at once (HF's upload_file(create_pr=True))
        base_ref=f"refs/heads/{revision.removeprefix('refs/heads/')}",
    )  # fmt: skip
    return num, start or base


def open_discussion(
    session: Session,
    *,
    repo: Repo,
    caller: Caller,
    title: str,
    description: str,
    is_pull_request: bool,
    status: str | None = None,
    base_ref: str = events.MAIN_REF,
) -> int:
    """Number a new discussion or pull request (one sequence per repo, as on HF) and announce
    it. A PR opened by `create_pull_request` starts as a draft, as on HF."""
    # On PostgreSQL openers of one repo take turns until their transactions end, so each reads
    # the last number committed; SQLite has no such lock, and a loser there takes the next one.
    lock_in_transaction(session, f"discussions:{repo.pk}")
    for _ in range(_NUMBERING_TRIES):
        num = _next_num(session, repo)
        row = Discussion(
            repo_pk=repo.pk, num=num, title=title[:500] or "Untitled", description=description,
            is_pull_request=is_pull_request,
            status=status or ("draft" if is_pull_request else "open"), base_ref=base_ref,
            author_id=caller.user.id if caller.user else None,
        )  # fmt: skip
        try:
            # Two requests may pick the same number: the loser takes the next one, as HF's
            # concurrent openers all succeed. Each loss is another request's win, so few repeat.
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            continue
        _announce_opened(session, repo, row)
        return num
    raise Conflict("Too many discussions are being opened on this repo at once: try again")


_NUMBERING_TRIES = 100


def _announce_opened(session: Session, repo: Repo, row: Discussion) -> None:
    opening = {"id": row.opening_comment_id, "author": row.event_fields()["author"],
               "content": row.description}  # fmt: skip
    announce.announce(
        session, repo, events.DISCUSSION_CREATED, **row.event_fields(), comment=opening
    )


def _next_num(session: Session, repo: Repo) -> int:
    last = session.scalar(select(func.max(Discussion.num)).where(Discussion.repo_pk == repo.pk))
    return (last or 0) + 1


def _changes(
    store: RepoStore,
    gitrepo: git.Repository,
    head: git.Commit,
    operations: Sequence[Operation],
) -> tuple[list[git.Change], _Ingest]:
    attributes = _attributes(gitrepo, head)
    for op in operations:  # a commit that rewrites .gitattributes applies its own rules
        if isinstance(op, AddFile) and op.path_in_repo == ".gitattributes":
            attributes = op.content.path.read_text("utf-8", "replace")
    ingest = _Ingest(lfs_patterns(attributes))
    changes: list[git.Change] = []
    for op in operations:
        # huggingface_hub sends folder deletions as `folder/` (CommitOperationDelete's convention).
        folder = isinstance(op, DeleteFolder)
        path = check_path_in_repo(op.path_in_repo.removesuffix("/") if folder else op.path_in_repo)
        if isinstance(op, AddFile):
            changes.append(_add_file(store, gitrepo, path, op, ingest))
        elif isinstance(op, AddLfsFile):
            changes.append(_add_lfs(store, gitrepo, path, op, ingest))
        elif isinstance(op, CopyFile):
            changes.append(_copy(gitrepo, head, check_path_in_repo(op.src_path), path))
        elif isinstance(op, DeleteFile):
            changes.append(_delete_file(gitrepo, head, path))
        elif isinstance(op, DeleteFolder):
            changes.append(git.RemoveDir(path))
    if ingest.untracked:
        lines = "\n".join(map(track_line, ingest.untracked))
        text = attributes.rstrip("\n") + "\n" + lines + "\n"
        changes.append(git.Put(".gitattributes", git.write_blob(gitrepo, text.encode())))
    return changes, ingest


def _add_file(
    store: RepoStore, gitrepo: git.Repository, path: str, op: AddFile, ingest: _Ingest
) -> git.Put:
    spooled = op.content
    if path == ".gitattributes" or not wants_lfs(path, spooled.size, ingest.patterns):
        return git.Put(path, git.write_blob_from_file(gitrepo, spooled.path))
    git_oid = lfs_index.content_git_oid(spooled.path)
    ingest.objects.append(LfsObject(oid=spooled.sha256, size=spooled.size, git_oid=git_oid))
    store.blobs.adopt(spooled.path, spooled.sha256)
    ingest.named.add(spooled.sha256)
    if not is_lfs_path(path, ingest.patterns):
        ingest.untracked.append(path)
    pointer = git.lfs_pointer_bytes(spooled.sha256, spooled.size)
    return git.Put(path, git.write_blob(gitrepo, pointer))


def _add_lfs(
    store: RepoStore, gitrepo: git.Repository, path: str, op: AddLfsFile, ingest: _Ingest
) -> git.Put:
    stored_size = store.blobs.size(op.oid) if is_sha256(op.oid) else None
    if stored_size is None:
        raise BadRequest(
            f"LFS object {op.oid} for {path} was not uploaded: upload it with the LFS batch API "
            "first"
        )
    if op.size is not None and op.size != stored_size:
        raise BadRequest(f"LFS object {op.oid} has size {stored_size}, not {op.size}")
    ingest.named.add(op.oid)
    ingest.claimed.add(op.oid)
    if not is_lfs_path(path, ingest.patterns):
        ingest.untracked.append(path)
    return git.Put(path, git.write_blob(gitrepo, git.lfs_pointer_bytes(op.oid, stored_size)))


def _copy(gitrepo: git.Repository, head: git.Commit, src: str, dest: str) -> git.Put:
    obj = git.lookup(gitrepo, head, src)
    if not isinstance(obj, git.Blob):
        raise EntryNotFound(f"Cannot copy {src}: no such file at {head.id}")
    return git.Put(dest, str(obj.id))


def _delete_file(
    gitrepo: git.Repository, head: git.Commit, path: str
) -> git.Remove | git.RemoveDir:
    found = git.lookup(gitrepo, head, path)
    if isinstance(found, git.Tree):  # HF deletes a folder named as a file (no trailing '/')
        return git.RemoveDir(path)
    if not isinstance(found, git.Blob):
        raise EntryNotFound(f"A file with this name doesn't exist: {path}")
    return git.Remove(path)


def _build(gitrepo: git.Repository, head: git.Commit, changes: list[git.Change]) -> str:
    try:
        return git.build_tree(gitrepo, head, changes)
    except git.TreeConflict as exc:
        raise UnprocessableEntity(str(exc)) from exc
    except (KeyError, git.GitError) as exc:
        raise EntryNotFound(f"Cannot apply the commit: {exc}") from exc
