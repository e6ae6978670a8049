"""Runs inside a space's sandbox: joins its sockets to the host's, copies the app, runs it.

Standard library only: it runs with the space's own Python, before the app. The host side
imports `splice` from here too, so both ends pipe bytes the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
    Connect = Callable[[], Awaitable[Streams]]

logger = logging.getLogger("hugbox.bridge")
CHUNK = 1 << 16


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy whatever arrives as it arrives (SSE, websockets), then pass the end on."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            # Half-close: the answer may still be on its way in the other direction.
            writer.write_eof()
    except OSError:
        writer.close()


async def splice(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connect: Connect
) -> None:
    """Join an accepted connection to a fresh one from `connect`, both ways, until both end."""
    try:
        far_reader, far_writer = await connect()
    except OSError as error:
        logger.debug("bridge: cannot connect: %s", error)
        writer.close()
        return
    try:
        await asyncio.gather(pipe(reader, far_writer), pipe(far_reader, writer))
    finally:
        far_writer.close()
        writer.close()


async def _serve_app(config: dict[str, Any]) -> asyncio.AbstractServer:
    """The host reaches the app through its listening socket: under bubblewrap made outside and
    inherited as an fd (the sandbox writes nothing on the host); in a container, whose engine
    passes no fd, made here in a directory the host mounted for it."""
    port = config["app_port"]

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await splice(reader, writer, lambda: asyncio.open_connection("127.0.0.1", port))

    if "app_socket_path" in config:
        return await asyncio.start_unix_server(accept, path=config["app_socket_path"])
    return await asyncio.start_unix_server(
        accept, sock=socket.socket(fileno=config["app_socket_fd"])
    )


async def _serve_hub(port: int, path: str) -> asyncio.AbstractServer:
    """The app reaches the hub, and nothing else, through 127.0.0.1:port."""

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await splice(reader, writer, lambda: asyncio.open_unix_connection(path))

    return await asyncio.start_server(accept, host="127.0.0.1", port=port)


def _copy_app(source: str, target: str) -> None:
    """The app gets a writable copy on its own bounded tmpfs; the checkout stays read-only."""
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(".git"))


async def _run_app(config: dict[str, Any]) -> int:
    app = await asyncio.create_subprocess_exec(
        *config["command"],
        env=config["env"],
        cwd=config["workdir"],
        stdin=asyncio.subprocess.DEVNULL,
        start_new_session=True,  # its own group, so a stop reaches its workers too
    )
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, _forward, app.pid, number)
    code = await app.wait()
    return code if code >= 0 else 128 - code


def _forward(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, number)


async def _until_stopped() -> int:
    """Beside a Docker space's own container (command None): bridge until told to stop."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopped.set)
    await stopped.wait()
    return 0


async def serve(config: dict[str, Any]) -> int:
    """Bridge both sockets, run the app and return its exit code (128 + signal if killed)."""
    if config["command"] is not None:
        _copy_app(config["copy_from"], config["workdir"])
    app_server = await _serve_app(config)
    hub_server = await _serve_hub(config["hub_port"], config["hub_socket"])
    try:
        if config["command"] is None:
            return await _until_stopped()
        return await _run_app(config)
    except (OSError, ValueError) as error:  # no such program; a NUL byte in the environment
        logger.error("bridge: cannot start %s: %s", config["command"], error)
        return 127
    finally:
        app_server.close()
        hub_server.close()


def read_config(source: int | str) -> dict[str, Any]:
    """The launch arrives on an inherited fd, or in a container as a file only the space may
    read, removed once read; so no secret shows in a process list or an engine's inspect."""
    with open(source, "rb") as file:  # noqa: PTH123 - an fd or a path
        config: dict[str, Any] = json.load(file)
    if isinstance(source, str):
        os.unlink(source)  # noqa: PTH108 - standard library only, no pathlib needed
    return config


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    config = read_config(int(argv[1]) if argv[1].isdigit() else argv[1])
    try:
        return asyncio.run(serve(config))
    except OSError as error:
        logger.error("bridge: %s", error)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
