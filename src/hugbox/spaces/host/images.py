"""The generic base image of space containers: Debian with python3 (the interpreter the space
venvs are built against, at the same path), from debootstrap, imported into the engine once."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from hugbox.spaces.host.engine import Engine, EngineError

SUITE = "bookworm"
PACKAGES = "python3,python3-venv,ca-certificates"
# Without PATH, `podman kube play` finds no python3 in an imported image (spec/scale-out.md §5).
CHANGES = ["ENV PATH=/usr/local/bin:/usr/bin:/bin", "ENV LANG=C.UTF-8"]


async def debootstrap(target: Path, mirror: str) -> None:
    """A minimal Debian root filesystem with python3 in `target` (about 45 s, 275 MB)."""
    tool = shutil.which("debootstrap")
    if tool is None:
        raise EngineError("debootstrap is not installed: apt-get install debootstrap")
    process = await asyncio.create_subprocess_exec(
        tool, "--variant=minbase", f"--include={PACKAGES}", SUITE, str(target), mirror,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise EngineError(f"debootstrap failed:\n{output.decode(errors='replace')[-2000:]}")


async def tar_stream(root: Path) -> AsyncIterator[bytes]:
    """`root` as an uncompressed tarball, streamed (no copy on disk)."""
    process = await asyncio.create_subprocess_exec(
        "tar", "--numeric-owner", "-C", str(root), "-c", ".", stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    while chunk := await process.stdout.read(1 << 20):
        yield chunk
    if await process.wait() != 0:
        raise EngineError(f"tar of {root} failed")


async def file_stream(tarball: Path) -> AsyncIterator[bytes]:
    with tarball.open("rb") as source:
        while chunk := await asyncio.to_thread(source.read, 1 << 20):
            yield chunk


async def build_base_image(engine: Engine, image: str, *, rootfs: Path | None, mirror: str) -> None:
    """Import `rootfs` (a debootstrapped tree, or its tarball), or a fresh debootstrap."""
    if rootfs is not None:
        is_file = await asyncio.to_thread(rootfs.is_file)
        stream = file_stream(rootfs) if is_file else tar_stream(rootfs)
        await engine.import_image(stream, image, CHANGES)
        return
    with tempfile.TemporaryDirectory(prefix="hugbox-rootfs-") as scratch:
        root = Path(scratch) / "root"
        await debootstrap(root, mirror)
        await engine.import_image(tar_stream(root), image, CHANGES)
