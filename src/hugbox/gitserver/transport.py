"""git's own `upload-pack` / `receive-pack --stateless-rpc` on a bare repo: the smart HTTP halves.

Request bodies are spooled to an unlinked temp file (ungzipped on the way) before git reads them:
memory stays bounded, and git never blocks writing its answer while we still feed it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import tempfile
import zlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import BinaryIO

from hugbox.errors import BadRequest

log = logging.getLogger(__name__)

UPLOAD_PACK = "git-upload-pack"
RECEIVE_PACK = "git-receive-pack"
SERVICES = (UPLOAD_PACK, RECEIVE_PACK)
_READ_SIZE = 256 * 1024


def pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


def wants_v2(git_protocol: str | None) -> bool:
    return "version=2" in (git_protocol or "").split(":")


def service_env(service: str, git_protocol: str | None) -> dict[str, str]:
    """Protocol v2 is upload-pack's only (git asks for it with the `Git-Protocol` header)."""
    env = dict(os.environ)
    if service == UPLOAD_PACK and git_protocol:
        env["GIT_PROTOCOL"] = git_protocol
    return env


def command(
    service: str,
    git_dir: Path,
    *,
    advertise: bool = False,
    config: Mapping[str, str] | None = None,
) -> list[str]:
    options = [arg for key, value in (config or {}).items() for arg in ("-c", f"{key}={value}")]
    advert = ["--advertise-refs"] if advertise else []
    return ["git", *options, service.removeprefix("git-"), "--stateless-rpc", *advert, str(git_dir)]


async def advertise_refs(service: str, git_dir: Path, git_protocol: str | None) -> bytes:
    """The `info/refs` body: what git http-backend sends (no service line under v2)."""
    process = await asyncio.create_subprocess_exec(
        *command(service, git_dir, advertise=True),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=service_env(service, git_protocol),
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{service} --advertise-refs failed: {err.decode(errors='replace')}")
    if service == UPLOAD_PACK and wants_v2(git_protocol):
        return out
    return pkt_line(f"# service={service}\n") + b"0000" + out


async def spool_body(chunks: AsyncIterator[bytes], *, gzipped: bool, tmp_dir: Path) -> BinaryIO:
    """The request body in an unlinked temp file, rewound; `Content-Encoding: gzip` undone."""
    spool = tempfile.TemporaryFile(dir=tmp_dir, prefix="git-body-")  # noqa: SIM115 (returned open)
    try:
        await _write_body(spool, chunks, gzipped=gzipped)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


async def _write_body(spool: BinaryIO, chunks: AsyncIterator[bytes], *, gzipped: bool) -> None:
    decoder = zlib.decompressobj(wbits=31) if gzipped else None
    try:
        async for chunk in chunks:
            spool.write(decoder.decompress(chunk) if decoder else chunk)
        if decoder:
            spool.write(decoder.flush())
    except zlib.error as exc:
        raise BadRequest(f"The body is not valid gzip: {exc}") from None
    if decoder and not decoder.eof:
        raise BadRequest("The gzip body is cut short")


async def stream_upload_pack(
    git_dir: Path, body: BinaryIO, git_protocol: str | None
) -> AsyncIterator[bytes]:
    """upload-pack's answer (the pack) as it is produced; the process dies with the response."""
    with body, tempfile.TemporaryFile(prefix="git-stderr-") as stderr:
        process = await asyncio.create_subprocess_exec(
            *command(UPLOAD_PACK, git_dir),
            stdin=body,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=service_env(UPLOAD_PACK, git_protocol),
        )
        assert process.stdout is not None
        try:
            while chunk := await process.stdout.read(_READ_SIZE):
                yield chunk
        finally:
            if process.returncode is None and not process.stdout.at_eof():
                process.kill()
            if await process.wait() not in (0, -9):
                stderr.seek(0)
                log.warning("upload-pack failed: %s", stderr.read(4000).decode(errors="replace"))


def run_receive_pack(
    git_dir: Path, body: BinaryIO, *, config: Mapping[str, str], env: Mapping[str, str]
) -> bytes:
    """receive-pack's whole answer (status lines and progress: small, unlike a pack)."""
    done = subprocess.run(
        command(RECEIVE_PACK, git_dir, config=config),
        stdin=body,
        capture_output=True,
        env={**service_env(RECEIVE_PACK, None), **env},
        check=False,
    )
    if done.returncode != 0:
        log.warning("receive-pack exited %s: %s", done.returncode, done.stderr[-4000:])
    return done.stdout
