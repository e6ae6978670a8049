"""The scan answers on the wire, as HF's OpenAPI names them."""

from __future__ import annotations

from pydantic import BaseModel


class FileWithIssue(BaseModel):
    path: str
    level: str


class SecurityRepoStatus(BaseModel):
    scansDone: bool
    filesWithIssues: list[FileWithIssue]
