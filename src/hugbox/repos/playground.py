"""Tokenizer playground: encode text with the `tokenizer.json` a repo hosts (server-side)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from hugbox.errors import BadRequest, EntryNotFound, HubError
from hugbox.repos import content
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.store import RepoStore

MAX_TEXT = 10_000
MAX_TOKENIZER_BYTES = 64 * 1024 * 1024
# What transformers' tokenizers load from: any one of them means the repo ships a tokenizer.
TOKENIZER_FILES = frozenset({
    "tokenizer.json", "tokenizer_config.json", "vocab.json", "vocab.txt", "merges.txt",
    "tokenizer.model", "spiece.model", "sentencepiece.bpe.model",
})  # fmt: skip


@dataclass(frozen=True)
class Token:
    text: str
    id: int
    start: int
    end: int


@dataclass(frozen=True)
class Encoding:
    kind: str  # BPE | WordPiece | Unigram | WordLevel
    vocab_size: int
    special_tokens: list[str]
    tokens: list[Token]


@functools.lru_cache(maxsize=16)
def _load(blob_id: str, data: bytes) -> Any:
    # Keyed by the blob id: a tokenizer.json never changes under the same id.
    from tokenizers import Tokenizer  # the `ml` extra: imported only when a page needs it

    return Tokenizer.from_str(data.decode("utf-8"))


def _tokenizer(store: RepoStore, repo: Repo, revision: str) -> Any:
    gitrepo = store.open(repo)
    commit = content.resolve_revision(gitrepo, revision)
    try:
        file = content.get_file(gitrepo, commit, "tokenizer.json")
    except EntryNotFound as exc:
        raise EntryNotFound("This repo has no tokenizer.json at its root") from exc
    if file.size > MAX_TOKENIZER_BYTES:
        raise BadRequest("This tokenizer.json is too large for the playground")
    if file.lfs is not None:
        with store.blobs.open(file.lfs.oid) as handle:
            data = handle.read()
    else:
        data = content.read_blob(gitrepo, file.blob_id)
    try:
        return _load(file.blob_id, data)
    except Exception as exc:  # the library raises plain Exceptions on bad files
        raise BadRequest(f"Cannot load this tokenizer.json: {exc}") from exc


def encode(store: RepoStore, repo: Repo, revision: str, text: str) -> Encoding:
    tokenizer = _tokenizer(store, repo, revision)
    encoding = tokenizer.encode(text[:MAX_TEXT])
    tokens = [
        Token(text[start:end] or piece, ident, start, end)
        for piece, ident, (start, end) in zip(
            encoding.tokens, encoding.ids, encoding.offsets, strict=True
        )
    ]
    specials = [t.content for t in tokenizer.get_added_tokens_decoder().values() if t.special]
    return Encoding(type(tokenizer.model).__name__, tokenizer.get_vocab_size(), specials, tokens)


def has_tokenizer(files: tuple[content.RepoFile, ...]) -> bool:
    return any(f.path in TOKENIZER_FILES for f in files)


def repo_has_tokenizer(store: RepoStore, repo: Repo) -> bool:
    """Whether main has a tokenizer at its root: the Tokenizer tab shows only then."""
    if repo.type is not RepoType.MODEL:
        return False
    try:
        tree = content.resolve_revision(store.open(repo), "main").tree
    except HubError:  # an empty repo has no main yet
        return False
    return any(name in tree for name in TOKENIZER_FILES)
