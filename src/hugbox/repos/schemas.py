"""HF's JSON shapes for repos, files and refs (what `huggingface_hub`'s dataclasses parse)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from hugbox.repos import content, refs
from hugbox.repos.indexer import Snapshot
from hugbox.repos.models import RepoFields, RepoType
from hugbox.wire import OpenWireModel, WireModel


class BlobLfsInfo(WireModel):
    sha256: str
    size: int
    pointerSize: int


class RepoSibling(WireModel):
    rfilename: str
    size: int | None = None
    blobId: str | None = None
    lfs: BlobLfsInfo | None = None


class ModelConfig(OpenWireModel):
    """The parts of `config.json` a model's info repeats (`architectures`, `model_type`, …)."""


class RepoInfo(WireModel):
    """What `model_info`, `dataset_info` and `space_info` share. With `expand`, HF sends only
    the properties asked for, so all but the ids may be missing."""

    id: str
    object_id: str | None = Field(default=None, alias="_id")
    author: str | None = None
    sha: str | None = None
    lastModified: str | None = None
    createdAt: str | None = None
    private: bool | None = None
    gated: bool | str | None = None
    disabled: bool | None = None
    downloads: int | None = None
    downloadsAllTime: int | None = None
    likes: int | None = None
    tags: list[str] | None = None
    cardData: dict[str, Any] | None = None
    siblings: list[RepoSibling] | None = None
    usedStorage: int | None = None
    trendingScore: int | None = None


class ModelInfo(RepoInfo):
    pipeline_tag: str | None = None
    library_name: str | None = None
    config: ModelConfig | None = None
    # With `?securityStatus=true` (scanning's info hook): {scansDone, filesWithIssues}.
    securityRepoStatus: dict[str, Any] | None = None


class DatasetInfo(RepoInfo):
    pass


class SpaceInfo(RepoInfo):
    sdk: str | None = None
    host: str | None = None
    subdomain: str | None = None
    runtime: dict[str, Any] | None = None  # spaces' SpaceRuntime, as /runtime sends it


AnyRepoInfo = ModelInfo | DatasetInfo | SpaceInfo


class RepoUrl(WireModel):
    """`create_repo`'s answer (`duplicate_repo` sends only the url)."""

    url: str
    name: str | None = None
    id: str | None = None


class RepoStorageInfo(WireModel):
    id: str
    type: str
    updatedAt: str
    visibility: Literal["public", "private"]
    storage: int
    storagePercent: float


class LastCommitInfo(WireModel):
    id: str
    title: str
    date: str


class TreeLfsInfo(WireModel):
    """A tree entry's `lfs` (huggingface_hub reads it into BlobLfsInfo; `oid` is the sha256)."""

    oid: str
    size: int
    pointerSize: int


class RepoFile(WireModel):
    type: Literal["file"]
    oid: str
    size: int
    path: str
    lfs: TreeLfsInfo | None = None
    lastCommit: LastCommitInfo | None = None
    xetHash: str | None = None  # on files stored in Xet (xet's listing hook adds it)
    # On expanded entries of scanned files (scanning's listing hook): {status, avScan, ...}.
    securityFileStatus: dict[str, Any] | None = None


class RepoFolder(WireModel):
    type: Literal["directory"]
    oid: str
    size: int
    path: str
    lastCommit: LastCommitInfo | None = None


TreeEntry = Annotated[RepoFile | RepoFolder, Field(discriminator="type")]


class GitRefInfo(WireModel):
    name: str
    ref: str
    targetCommit: str


class GitRefs(WireModel):
    branches: list[GitRefInfo]
    tags: list[GitRefInfo]
    converts: list[GitRefInfo]
    pullRequests: list[GitRefInfo] | None = None  # with `include_prs`


class CommitAuthor(WireModel):
    user: str


class FormattedCommit(WireModel):
    title: str
    message: str


class GitCommitInfo(WireModel):
    id: str
    title: str
    message: str
    authors: list[CommitAuthor]
    date: str
    formatted: FormattedCommit | None = None  # with `expand[]=formatted`


class PreuploadFileMode(WireModel):
    path: str
    uploadMode: Literal["lfs", "regular"]
    shouldIgnore: bool
    oid: str | None = None


class PreuploadResult(WireModel):
    files: list[PreuploadFileMode]
    commitOid: str


class CommitInfo(WireModel):
    """`create_commit`'s answer, which huggingface_hub reads into its CommitInfo."""

    success: bool
    commitOid: str
    commitUrl: str
    hookOutput: str
    pullRequestUrl: str | None


class CardMessage(WireModel):
    message: str


class CardValidation(WireModel):
    """`validate-yaml`'s answer, with status 200 (valid) or 400 (errors)."""

    errors: list[CardMessage]
    warnings: list[CardMessage]


class HarnessInfo(WireModel):
    envVars: dict[str, str] = Field(default_factory=dict)


class AgentHarnessRegistry(WireModel):
    """What huggingface_hub's agent detection reads (its `Registry`)."""

    standardEnvVars: list[str]
    harnesses: dict[str, HarnessInfo]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def repo_summary(repo: RepoFields) -> dict[str, Any]:
    """The fields of listings: what the DB knows without reading git."""
    info: dict[str, Any] = {
        "_id": f"{repo.type.value}-{repo.pk}",
        "id": repo.repo_id,
        "author": repo.namespace,
        "sha": repo.head_sha,
        "lastModified": iso(repo.last_modified),
        "createdAt": iso(repo.created_at),
        "private": repo.private,
        "gated": repo.gated or False,
        "disabled": repo.disabled,
        "downloads": repo.downloads,
        "likes": repo.likes,
        "trendingScore": repo.trending_score,
        "tags": list(repo.tags),
    }
    if repo.type is RepoType.MODEL:
        info["pipeline_tag"] = repo.pipeline_tag
        info["library_name"] = repo.library_name
    if repo.type is RepoType.SPACE:
        info["sdk"] = repo.sdk
    return info


def repo_info(
    repo: RepoFields,
    *,
    sha: str,
    last_modified: datetime,
    snap: Snapshot,
    siblings: Sequence[content.RepoFile],
    blobs: bool,
) -> dict[str, Any]:
    info = repo_summary(repo)
    info.update(
        sha=sha,
        lastModified=iso(last_modified),
        tags=snap.tags,
        cardData=snap.card,
        siblings=[sibling(f, blobs=blobs) for f in siblings],
        # Bytes every ref's history holds (large files once), kept by the usage part.
        usedStorage=repo.used_storage,
        downloadsAllTime=repo.downloads_all_time,
    )
    if repo.type is RepoType.MODEL:
        info["pipeline_tag"] = snap.pipeline_tag
        info["library_name"] = snap.library_name
        if snap.config is not None:
            keys = ("architectures", "model_type", "tokenizer_config")
            info["config"] = {k: snap.config[k] for k in keys if k in snap.config}
    return info


def only_expanded(info: dict[str, Any], expand: list[str]) -> dict[str, Any]:
    """With `expand`, HF returns just those properties (unknown ones are ignored)."""
    if not expand:
        return info
    wanted = set(expand) | {"_id", "id"}
    return {k: v for k, v in info.items() if k in wanted}


def sibling(file: content.RepoFile, *, blobs: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"rfilename": file.path}
    if blobs:
        item.update(size=file.size, blobId=file.blob_id)
        if file.lfs:
            item["lfs"] = {
                "sha256": file.lfs.oid,
                "size": file.lfs.size,
                "pointerSize": file.lfs.pointer_size,
            }
    return item


def tree_entry(entry: content.RepoEntry) -> dict[str, Any]:
    if isinstance(entry, content.RepoFile):
        item: dict[str, Any] = {
            "type": "file",
            "oid": entry.blob_id,
            "size": entry.size,
            "path": entry.path,
        }
        if entry.lfs:
            item["lfs"] = {
                "oid": entry.lfs.oid,
                "size": entry.lfs.size,
                "pointerSize": entry.lfs.pointer_size,
            }
    else:
        item = {"type": "directory", "oid": entry.tree_id, "size": 0, "path": entry.path}
    if entry.last_commit:
        last = entry.last_commit
        item["lastCommit"] = {"id": last.id, "title": last.title, "date": iso(last.date)}
    return item


def git_ref(ref: refs.GitRef) -> dict[str, str]:
    return {"name": ref.name, "ref": ref.ref, "targetCommit": ref.target_commit}


def git_refs(listed: refs.GitRefs, *, include_prs: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "branches": [git_ref(r) for r in listed.branches],
        "tags": [git_ref(r) for r in listed.tags],
        "converts": [git_ref(r) for r in listed.converts],
    }
    if include_prs:
        result["pullRequests"] = [git_ref(r) for r in listed.pull_requests]
    return result


def commit_item(commit: refs.GitCommitInfo, *, formatted: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": commit.id,
        "title": commit.title,
        "message": commit.message,
        "authors": [{"user": name} for name in commit.authors],
        "date": iso(commit.date),
    }
    if formatted:
        item["formatted"] = {"title": commit.title, "message": commit.message}
    return item
