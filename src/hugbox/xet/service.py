"""The Xet CAS: verified xorb and shard uploads, reconstruction plans, dedup answers.

Xorbs are stored verbatim after verification, under their Xet hash, in their own blob store.
A shard's files are verified term by term and rebuilt once to prove the sha256 each claims;
then the sha256 store names the file's recipe (xet/blobs.py), and a Xet-uploaded file is an
ordinary LFS object for `resolve`, git-lfs and clients without Xet, stored only once
(docs/architecture.md, "Xet storage").
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hugbox.auth.scopes import Permission
from hugbox.auth.service import Caller, require
from hugbox.errors import AuthenticationRequired, BadRequest, Forbidden, HubError, NotFound
from hugbox.repos import access
from hugbox.repos import objects as repo_objects
from hugbox.repos.models import Repo
from hugbox.repos.service import authorize_upload
from hugbox.signing import UrlSigner
from hugbox.storage.blobs import BlobStore
from hugbox.xet import format as fmt
from hugbox.xet import recipes, tokens
from hugbox.xet.blobs import XetBlobStore
from hugbox.xet.models import CHUNK_ROW, XetDedup, XetFile, XetFileRepo, Xorb
from hugbox.xet.reader import iter_blocks
from hugbox.xet.recipes import ChunkRows, Recipe, stored_start, unpacked_start
from hugbox.xet.tokens import XetToken

log = logging.getLogger(__name__)
FETCH_URL_TTL = 15 * 60


class RangeNotSatisfiable(HubError):
    status_code = 416
    default_message = "Requested range not satisfiable"


@dataclass
class XetStorage:
    """Where the CAS keeps its bytes, and the secrets that sign its tokens and URLs."""

    xorbs: BlobStore  # verified xorbs, keyed by Xet hash
    shards: BlobStore  # uploaded shards, keyed by sha256 (an audit log; the DB is authoritative)
    blobs: XetBlobStore  # the hub's sha256 store, where Xet files are published as recipes
    tmp_dir: Path
    secret: bytes
    epoch: str  # part of the CAS URL: clients key their caches by it (spec/xet.md §3.6)

    @property
    def fetch_signer(self) -> UrlSigner:
        return UrlSigner(self.secret, ttl_seconds=FETCH_URL_TTL)


def open_storage(*, blobs: XetBlobStore, secret: bytes) -> XetStorage:
    return XetStorage(
        xorbs=blobs.xorbs,
        shards=blobs.shards,
        blobs=blobs,
        tmp_dir=blobs.tmp_dir,
        secret=secret,
        epoch=_epoch(blobs),
    )


def _epoch(blobs: XetBlobStore) -> str:
    """The storage epoch, created once per store (atomically: server workers and replicas start
    together, and all must name the same one)."""
    return blobs.meta.claim("epoch", secrets.token_hex(4).encode()).decode().strip()


def _now() -> datetime:
    return datetime.now(UTC)


def _need_write(token: XetToken) -> None:
    if not token.write:
        raise Forbidden("This Xet token only allows reads")


# --- xorbs -------------------------------------------------------------------------------------


def store_xorb(
    session: Session, storage: XetStorage, *, token: XetToken, xorb: str, body: list[bytes]
) -> bool:
    """Verify and keep a xorb (its body as received, in parts); False when it was already
    stored (not an error)."""
    _need_write(token)
    xorb = xorb.lower()
    expected = _parse_hash(xorb)
    found = session.get(Xorb, xorb)
    size = sum(map(len, body))
    log.info("xorb %s: %d bytes received, %s", xorb, size, "known" if found else "new")
    if found is not None:
        found.touched_at = _now()
        return False
    parsed = _verify_and_keep(storage, xorb, expected, body)
    rows = b"".join(CHUNK_ROW.pack(c.hash, c.stored_end, c.unpacked_end) for c in parsed.chunks)
    _add_once(
        session,
        Xorb(
            hash=xorb,
            stored_size=parsed.data_length,
            unpacked_size=parsed.unpacked_size,
            chunk_count=len(parsed.chunks),
            chunks=rows,
            created_at=_now(),
            touched_at=_now(),
        ),
    )
    return True


def _verify_and_keep(
    storage: XetStorage, xorb: str, expected: bytes, body: list[bytes]
) -> fmt.ParsedXorb:
    try:
        parsed = fmt.parse_xorb(body, expected)
    except fmt.FormatError as exc:
        log.warning("rejected xorb %s: %s", xorb, exc)
        raise BadRequest(f"Invalid xorb {xorb}: {exc}") from exc
    storage.tmp_dir.mkdir(parents=True, exist_ok=True)
    path = storage.tmp_dir / f"xorb-{secrets.token_hex(8)}"
    with path.open("wb") as out:
        _write_prefix(out, body, parsed.data_length)
    storage.xorbs.adopt(path, xorb)
    return parsed


def _write_prefix(out: BinaryIO, parts: list[bytes], length: int) -> None:
    """The first `length` bytes of the parts (a footer, if the client sent one, is dropped)."""
    for part in parts:
        out.write(memoryview(part)[:length])
        length -= min(length, len(part))


def _parse_hash(text: str) -> bytes:
    if not fmt.is_hash_str(text):
        raise BadRequest(f"Not a Xet hash: {text!r}")
    return fmt.str_to_hash(text)


# --- shards ------------------------------------------------------------------------------------


class _Xorbs:
    """Chunk tables of the xorbs one request looks at, loaded once each."""

    def __init__(self, session: Session):
        self._session = session
        self._rows: dict[str, ChunkRows] = {}
        self._loaded: list[Xorb] = []

    def rows(self, xorb: str) -> ChunkRows:
        if xorb not in self._rows:
            found = self._session.get(Xorb, xorb)
            if found is None:
                raise BadRequest(f"The shard references xorb {xorb}, which was never uploaded")
            self._loaded.append(found)
            self._rows[xorb] = found.chunk_rows()
        return self._rows[xorb]

    def touch(self) -> None:
        """Mark every xorb looked at as in use now (garbage collection spares them)."""
        for xorb in self._loaded:
            xorb.touched_at = _now()


def _check_file(file: fmt.ShardFile, xorbs: _Xorbs) -> list[list[object]]:
    """The file's terms, once each term's ranges and hashes and the file hash check out."""
    leaves: list[tuple[bytes, int]] = []
    terms: list[list[object]] = []
    for term in file.terms:
        name = fmt.hash_to_str(term.xorb)
        rows = xorbs.rows(name)
        if not 0 <= term.chunk_start < term.chunk_end <= len(rows):
            raise BadRequest(f"Term of file {fmt.hash_to_str(file.hash)} is out of xorb {name}")
        chosen = rows[term.chunk_start : term.chunk_end]
        lengths = [
            rows[i][2] - unpacked_start(rows, i) for i in range(term.chunk_start, term.chunk_end)
        ]
        if sum(lengths) != term.unpacked or term.verification != fmt.verification_hash(
            [r[0] for r in chosen]
        ):
            raise BadRequest(f"Term of file {fmt.hash_to_str(file.hash)} fails verification")
        leaves.extend((r[0], n) for r, n in zip(chosen, lengths, strict=True))
        terms.append([name, term.chunk_start, term.chunk_end, term.unpacked])
    if fmt.file_hash(leaves) != file.hash:
        raise BadRequest(f"File hash {fmt.hash_to_str(file.hash)} does not match its chunks")
    return terms


def register_shard(session: Session, storage: XetStorage, *, token: XetToken, body: bytes) -> int:
    """Verify every file of the shard, prove the sha256 each claims and publish it in the
    sha256 store, and let the token's repo read them. Returns the number of files."""
    _need_write(token)
    try:
        files = fmt.parse_shard(body)
    except fmt.FormatError as exc:
        log.warning("rejected shard: %s", exc)
        raise BadRequest(f"Invalid shard: {exc}") from exc
    xorbs = _Xorbs(session)
    checked = [(file, _check_file(file, xorbs)) for file in files if file.terms]
    # Reconstruction may take seconds: it runs before this transaction writes anything, so no
    # database write lock is held meanwhile.
    for file, terms in checked:
        _prove_and_publish(session, storage, file, terms, xorbs)
    for file, terms in checked:
        _record_file(session, token, file, terms, xorbs)
    xorbs.touch()
    _keep_shard(storage, body)
    return len(files)


def _prove_and_publish(
    session: Session,
    storage: XetStorage,
    file: fmt.ShardFile,
    terms: list[list[object]],
    xorbs: _Xorbs,
) -> None:
    """Check the sha256 the client claims by rebuilding the file (once per Xet file), then let
    the sha256 store name the file's recipe, unless it holds those bytes already."""
    if file.sha256 is None:
        raise BadRequest("Shard files need the sha256 metadata extension")
    known = session.get(XetFile, fmt.hash_to_str(file.hash))
    if known is not None and known.sha256 != file.sha256:
        raise BadRequest(f"File {known.file_hash} has sha256 {known.sha256}, not {file.sha256}")
    if known is not None and storage.blobs.exists(file.sha256):
        return  # proven before, and its bytes are named (a client re-sending its shard)
    recipe = Recipe(file.sha256, [_segment(term, xorbs) for term in terms])
    if known is None:
        _check_sha256(storage, recipe)
    if not storage.blobs.exists(file.sha256):
        storage.blobs.publish(recipe)


def _segment(term: list[object], xorbs: _Xorbs) -> recipes.Segment:
    xorb = str(term[0])
    return recipes.segment(xorb, xorbs.rows(xorb), int(str(term[1])), int(str(term[2])))


def _record_file(
    session: Session,
    token: XetToken,
    file: fmt.ShardFile,
    terms: list[list[object]],
    xorbs: _Xorbs,
) -> None:
    name = fmt.hash_to_str(file.hash)
    if session.get(XetFile, name) is None:
        size = sum(int(str(t[3])) for t in terms)
        _add_once(session, XetFile(file_hash=name, sha256=file.sha256, size=size, terms=terms))
    if session.get(XetFileRepo, (token.repo_pk, name)) is None:
        _add_once(session, XetFileRepo(repo_pk=token.repo_pk, file_hash=name))
    if token.user_id is not None and file.sha256 is not None:
        oid = file.sha256
        repo_objects.record_upload(session, repo_pk=token.repo_pk, user_id=token.user_id, oid=oid)
    _index_dedup(session, token.domain, name, terms, xorbs)


def _add_once(session: Session, row: object) -> None:
    """Insert a row, unless a concurrent request inserted the same key first."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        pass


def _check_sha256(storage: XetStorage, recipe: Recipe) -> None:
    digest = hashlib.sha256()
    for block in iter_blocks(recipe, storage.xorbs):
        digest.update(block)
    if digest.hexdigest() != recipe.sha256:
        raise BadRequest(f"The shard's sha256 for a file is wrong: it is {digest.hexdigest()}")


def _keep_shard(storage: XetStorage, body: bytes) -> None:
    writer = storage.shards.writer()
    writer.write(body)
    writer.commit()


def _index_dedup(
    session: Session, domain: int, file_hash: str, terms: list[list[object]], xorbs: _Xorbs
) -> None:
    """Remember the chunks clients probe for (first of a file, hash ≡ 0 mod 1024)."""
    for index, term in enumerate(terms):
        xorb, start, end = str(term[0]), int(str(term[1])), int(str(term[2]))
        rows = xorbs.rows(xorb)
        for i in range(start, end):
            raw, first = rows[i][0], index == 0 and i == start
            if first or int.from_bytes(raw[24:], "little") % 1024 == 0:
                key = (fmt.hash_to_str(raw), domain)
                if session.get(XetDedup, key) is None:
                    _add_once(
                        session,
                        XetDedup(
                            chunk_hash=key[0],
                            domain=domain,
                            xorb_hash=xorb,
                            file_hash=file_hash if first else None,
                        ),
                    )


# --- reads -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedTerm:
    xorb: str
    chunk_start: int
    chunk_end: int
    unpacked_length: int
    byte_start: int
    byte_end: int  # inclusive, as the Range header the client sends


@dataclass(frozen=True)
class Plan:
    offset_into_first_range: int
    terms: list[PlannedTerm]


def readable_file(session: Session, *, token: XetToken, file_hash: str) -> XetFile:
    """The file, if the token's repo may read it; otherwise 404 (existence is not revealed)."""
    if session.get(XetFileRepo, (token.repo_pk, file_hash.lower())) is None:
        raise NotFound(f"No file {file_hash} in this repo")
    found = session.get(XetFile, file_hash.lower())
    assert found is not None  # the foreign key guarantees it
    # Uploaded for the repo is not enough: a commit of it must name the file, or the reader
    # must be the one who uploaded it (repos/objects.py).
    user_id, oids = token.user_id, [found.sha256]
    if not repo_objects.readable(session, repo_pk=token.repo_pk, user_id=user_id, oids=oids):
        raise NotFound(f"No file {file_hash} in this repo")
    return found


def parse_range(header: str | None, size: int) -> tuple[int, int]:
    """[start, end) of a `bytes=a-b` header (the whole file without one); 416 past the end."""
    if not header or not header.startswith("bytes="):
        return 0, size
    first, _, last = header[6:].strip().partition("-")
    try:
        start, end = int(first), (int(last) + 1 if last else size)
    except ValueError as exc:
        raise BadRequest(f"Invalid Range header {header!r}") from exc
    if start >= size or start >= end:
        raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return start, min(end, size)


def plan(session: Session, file: XetFile, start: int, end: int) -> Plan:
    """The chunk ranges (and their stored byte ranges) covering [start, end) of the file."""
    xorbs = _Xorbs(session)
    planned: list[PlannedTerm] = []
    offset, skip = 0, 0
    for xorb, t_start, t_end, unpacked in file.terms:
        if offset + unpacked > start and offset < end:
            rows = xorbs.rows(xorb)
            base = unpacked_start(rows, t_start) - offset  # file offset -> xorb offset
            first = next(i for i in range(t_start, t_end) if rows[i][2] - base > start)
            last = next(
                i for i in range(first, t_end) if rows[i][2] - base >= end or i == t_end - 1
            )
            if not planned:
                skip = start - (unpacked_start(rows, first) - base)
            planned.append(_planned(xorb, rows, first, last + 1))
        offset += unpacked
    return Plan(skip, planned)


def _planned(xorb: str, rows: ChunkRows, first: int, end: int) -> PlannedTerm:
    return PlannedTerm(
        xorb=xorb,
        chunk_start=first,
        chunk_end=end,
        unpacked_length=rows[end - 1][2] - unpacked_start(rows, first),
        byte_start=stored_start(rows, first),
        byte_end=rows[end - 1][1] - 1,
    )


def fetch_ranges(terms: list[PlannedTerm]) -> dict[str, list[PlannedTerm]]:
    """Per xorb, the disjoint chunk ranges to download: overlapping and touching terms merged,
    so that each term lies inside exactly one range. Repetitive files (zeros, padding) name the
    same chunks in many terms, and clients slice each term out of the one range covering it."""
    merged: dict[str, list[PlannedTerm]] = {}
    for term in sorted(terms, key=lambda t: (t.xorb, t.chunk_start)):
        ranges = merged.setdefault(term.xorb, [])
        last = ranges[-1] if ranges else None
        if last is None or term.chunk_start > last.chunk_end:
            ranges.append(term)
        elif term.chunk_end > last.chunk_end:
            ranges[-1] = PlannedTerm(
                xorb=last.xorb, chunk_start=last.chunk_start, chunk_end=term.chunk_end,
                unpacked_length=last.unpacked_length + term.unpacked_length,  # not sent
                byte_start=last.byte_start, byte_end=term.byte_end,
            )  # fmt: skip
    return merged


def read_range(storage: XetStorage, xorb: str, start: int, end: int) -> bytes:
    """Bytes [start, end] (inclusive) of a stored xorb: what a presigned fetch URL serves."""
    with storage.xorbs.open(xorb) as handle:
        handle.seek(start)
        return handle.read(end - start + 1)


# Built once: each download of a large file asks (its HEAD and its GET), and building a
# select costs as much as running it.
_FILE_HASH_FOR = (
    select(XetFile.file_hash)
    .join(XetFileRepo, XetFileRepo.file_hash == XetFile.file_hash)
    .where(XetFile.sha256 == bindparam("sha256"), XetFileRepo.repo_pk == bindparam("repo_pk"))
    .limit(1)
)


def file_hash_for(session: Session | Connection, *, repo_pk: int, sha256: str) -> str | None:
    """The Xet hash under which `repo_pk` may read the file with this sha256, if any."""
    found: str | None = session.scalar(_FILE_HASH_FOR, {"sha256": sha256, "repo_pk": repo_pk})
    return found


DEDUP_ANSWER_TTL = 7 * 24 * 3600
DEDUP_ANSWER_XORBS = 64  # at most ~4 GiB of a file advertised by one answer


def dedup_answer(session: Session, *, token: XetToken, chunk: str) -> bytes:
    """A shard advertising the xorb that holds `chunk` (and, for a file's first chunk, the
    file's other xorbs), only from the token's dedup domain: no one learns whether another
    tenant holds a chunk. 404 when there is nothing to offer."""
    entry = session.get(XetDedup, (chunk.lower(), token.domain))
    if entry is None:
        raise NotFound("No deduplication information for this chunk")
    names = [entry.xorb_hash]
    file = session.get(XetFile, entry.file_hash) if entry.file_hash else None
    for term in file.terms if file else []:
        if term[0] not in names and len(names) < DEDUP_ANSWER_XORBS:
            names.append(term[0])
    now = int(_now().timestamp())
    advertised = [_advertised(xorb) for name in names if (xorb := session.get(Xorb, name))]
    return fmt.dedup_shard(
        advertised, key=secrets.token_bytes(32), now=now, expiry=now + DEDUP_ANSWER_TTL
    )


def _advertised(xorb: Xorb) -> fmt.AdvertisedXorb:
    xorb.touched_at = _now()
    rows = xorb.chunk_rows()
    chunks = [(r[0], r[2] - unpacked_start(rows, i)) for i, r in enumerate(rows)]
    return fmt.AdvertisedXorb(fmt.str_to_hash(xorb.hash), xorb.stored_size, chunks)


@dataclass(frozen=True)
class TokenGrant:
    cas_url: str
    access_token: str
    exp: int


def issue_token(
    session: Session, storage: XetStorage, *, caller: Caller, repo: Repo, write: bool,
    create_pr: bool, cas_url: str,
) -> TokenGrant:  # fmt: skip
    """A Xet token for `repo`. Writing needs what any upload needs (repos.service
    .authorize_upload); without write access the commit that follows may only open a PR."""
    pr_only = False
    if write:
        authorize_upload(session, caller, repo, create_pr=create_pr)
        pr_only = not access.can_write(caller, repo)
    token = tokens.new_token(
        repo_pk=repo.pk,
        domain=repo.owner_id,
        user_id=caller.user.id if caller.user else None,
        write=write,
        pr_only=pr_only,
    )
    return TokenGrant(cas_url, tokens.encode(storage.secret, token), token.exp)


def json_bytes(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def file_hashes_for(session: Session, *, repo_pk: int, sha256s: list[str]) -> dict[str, str]:
    """sha256 -> Xet hash for those of the files that `repo_pk` may read through Xet."""
    if not sha256s:
        return {}
    query = (
        select(XetFile.sha256, XetFile.file_hash)
        .join(XetFileRepo, XetFileRepo.file_hash == XetFile.file_hash)
        .where(XetFile.sha256.in_(set(sha256s)), XetFileRepo.repo_pk == repo_pk)
    )
    return {str(sha): str(name) for sha, name in session.execute(query)}


@dataclass(frozen=True)
class CopyRequest:
    xet_hash: str
    sha256: str


def duplicate_files(
    session: Session, *, caller: Caller, source: Repo, target: Repo, files: list[CopyRequest]
) -> list[dict[str, str]]:
    """Let `target` read Xet files of `source` (a cross-repo `CommitOperationCopy`: the commit
    that follows names them by sha256). Returns the files that could not be copied."""
    if caller.user is None:
        raise AuthenticationRequired()
    if not access.can_read(caller, target):
        raise Forbidden(f"You don't have access to {target.repo_id}")
    # A writer's copy, or a pull request's.
    scope = access.target(target)
    writer = caller.allows(Permission.REPO_WRITE, scope)
    need = Permission.REPO_WRITE if writer else Permission.DISCUSSION_WRITE
    require(caller, need, scope, f"copy files into {target.repo_id}")
    failed = []
    for item in files:
        name = item.xet_hash.lower()
        held = session.get(XetFileRepo, (source.pk, name))
        file = session.get(XetFile, name) if held else None
        if file is None or file.sha256 != item.sha256:
            failed.append({"sha256": item.sha256, "error": "No such Xet file in the source repo"})
        elif session.get(XetFileRepo, (target.pk, name)) is None:
            _add_once(session, XetFileRepo(repo_pk=target.pk, file_hash=name))
    return failed


def share_files(session: Session, source: Repo, copy: Repo) -> None:
    """A repo copied by duplicate_repo may read the source's Xet files, as its pointers name
    them (a `RepoHooks.copied` hook)."""
    hashes = session.scalars(select(XetFileRepo.file_hash).where(XetFileRepo.repo_pk == source.pk))
    session.add_all(XetFileRepo(repo_pk=copy.pk, file_hash=h) for h in hashes)
    session.flush()
