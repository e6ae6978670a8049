"""HF's JSON shapes for repos, files and refs (what `huggingface_hub`'s dataclasses parse)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hugbox.repos.content import RepoEntry, RepoFile
from hugbox.repos.indexer import Snapshot
from hugbox.repos.models import RepoFields, RepoType
from hugbox.repos.refs import GitCommitInfo, GitRef, GitRefs


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
    siblings: Sequence[RepoFile],
    blobs: bool,
) -> dict[str, Any]:
    info = repo_summary(repo)
    info.update(
        sha=sha,
        lastModified=iso(last_modified),
        tags=snap.tags,
        cardData=snap.card,
        siblings=[sibling(f, blobs=blobs) for f in siblings],
        usedStorage=sum(f.size for f in siblings),
        downloadsAllTime=repo.downloads,
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


def sibling(file: RepoFile, *, blobs: bool) -> dict[str, Any]:
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


def tree_entry(entry: RepoEntry) -> dict[str, Any]:
    if isinstance(entry, RepoFile):
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


def git_ref(ref: GitRef) -> dict[str, str]:
    return {"name": ref.name, "ref": ref.ref, "targetCommit": ref.target_commit}


def git_refs(refs: GitRefs, *, include_prs: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "branches": [git_ref(r) for r in refs.branches],
        "tags": [git_ref(r) for r in refs.tags],
        "converts": [git_ref(r) for r in refs.converts],
    }
    if include_prs:
        result["pullRequests"] = [git_ref(r) for r in refs.pull_requests]
    return result


def commit_item(commit: GitCommitInfo, *, formatted: bool) -> dict[str, Any]:
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
