"""The generic base image of space containers: Debian with python3 (the interpreter the space
venvs are built against, at the same path), from debootstrap, imported into the engine once."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from hugbox.spaces.host.engine import Engine, EngineError

SUITE = "bookworm"
PACKAGES = "python3,python3-venv,ca-certificates"
# Without PATH, `podman kube play` finds no python3 in an imported image (spec/scale-out.md §5).
CHANGES = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
]


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


async def tar_stream(root: Path, *extra: Path) -> AsyncIterator[bytes]:
    """`root` (without .git), and the `extra` files at its top, as an uncompressed tarball,
    streamed (no copy on disk)."""
    args = ["--numeric-owner", "--exclude=./.git", "-C", str(root), "-c", "."]
    for path in extra:
        args += ["-C", str(path.parent), path.name]
    process = await asyncio.create_subprocess_exec("tar", *args, stdout=asyncio.subprocess.PIPE)
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


HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
CA_IN_CONTEXT = ".hugbox-ca.crt"
DOCKERFILE_IN_CONTEXT = ".hugbox.Dockerfile"
_CA_INSIDE = "/etc/ssl/certs/hugbox-host-ca.crt"
_CA_VARIABLES = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
_FROM = re.compile(r"^\s*FROM\s", re.IGNORECASE)


def with_host_ca(dockerfile: str) -> str:
    """The space's Dockerfile, each stage trusting the host's CA bundle: builds reach PyPI
    through this site's proxy (whose CA the bundle holds) with pip, uv, requests or curl."""
    lines = []
    for line in dockerfile.splitlines():
        lines.append(line)
        if _FROM.match(line):
            lines.append(f"COPY {CA_IN_CONTEXT} {_CA_INSIDE}")
            lines.append("ENV " + " ".join(f"{name}={_CA_INSIDE}" for name in _CA_VARIABLES))
    return "\n".join(lines) + "\n"


def build_context(app_dir: Path, scratch: Path) -> AsyncIterator[bytes]:
    """The app's files with the rewritten Dockerfile and the host's CA bundle beside them."""
    dockerfile = scratch / DOCKERFILE_IN_CONTEXT
    dockerfile.write_text(with_host_ca((app_dir / "Dockerfile").read_text(errors="replace")))
    ca = scratch / CA_IN_CONTEXT
    ca.write_bytes(HOST_CA.read_bytes() if HOST_CA.is_file() else b"")
    return tar_stream(app_dir, dockerfile, ca)
