"""`.gitattributes`: HF's default LFS rules, and matching paths against `filter=lfs` patterns."""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache

_COMMON = [
    "*.7z",
    "*.arrow",
    "*.bin",
    "*.bz2",
    "*.ckpt",
    "*.ftz",
    "*.gz",
    "*.h5",
    "*.joblib",
    "*.lfs.*",
    "*.mlmodel",
    "*.model",
    "*.msgpack",
    "*.npy",
    "*.npz",
    "*.onnx",
    "*.ot",
    "*.parquet",
    "*.pb",
    "*.pickle",
    "*.pkl",
    "*.pt",
    "*.pth",
    "*.rar",
    "*.safetensors",
    "saved_model/**/*",
    "*.tar.*",
    "*.tar",
    "*.tflite",
    "*.tgz",
    "*.wasm",
    "*.xz",
    "*.zip",
    "*.zst",
    "*tfevents*",
]
_DATASET_MEDIA = {
    "Audio files - uncompressed": ["*.pcm", "*.sam", "*.raw"],
    "Audio files - compressed": ["*.aac", "*.flac", "*.mp3", "*.ogg", "*.wav"],
    "Image files - uncompressed": ["*.bmp", "*.gif", "*.png", "*.tiff"],
    "Image files - compressed": ["*.jpg", "*.jpeg", "*.webp"],
    "Video files - compressed": ["*.mp4", "*.webm"],
}
LFS_SUFFIX = "filter=lfs diff=lfs merge=lfs -text"


def default_gitattributes(repo_type: str) -> str:
    lines = [f"{pattern} {LFS_SUFFIX}" for pattern in _COMMON]
    if repo_type == "dataset":
        lines.append("# Audio files - uncompressed")
        for title, patterns in _DATASET_MEDIA.items():
            lines.append(f"# {title}")
            lines += [f"{pattern} {LFS_SUFFIX}" for pattern in patterns]
    return "\n".join(lines) + "\n"


def lfs_patterns(text: str) -> tuple[str, ...]:
    patterns = []
    for line in text.splitlines():
        parts = line.strip().split()
        if parts and not parts[0].startswith("#") and "filter=lfs" in parts[1:]:
            patterns.append(parts[0])
    return tuple(patterns)


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    anchored = "/" in pattern.rstrip("/")
    body = pattern.lstrip("/")
    regex = fnmatch.translate(body).replace(".*", "[^/]*")
    regex = regex.replace("[^/]*[^/]*", ".*")  # `**` crosses folders
    return re.compile(regex if anchored else r"(?:.*/)?" + regex)


def is_lfs_path(path: str, patterns: tuple[str, ...]) -> bool:
    """Git's matching, simplified: patterns without `/` match the basename at any depth."""
    return any(_compile(pattern).match(path) for pattern in patterns)


def track_line(path: str) -> str:
    escaped = re.sub(r"([ \\*?\[\]#!])", r"\\\1", path)
    return f"{escaped} {LFS_SUFFIX}"
