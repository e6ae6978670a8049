"""`hugbox spaces serve`: the spaces host (builds, sandboxed apps, the proxy) on its own port.
`hugbox serve` starts one beside the hub; run it alone to put spaces on another machine that
shares the data dir and database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
import uvicorn

from hugbox.cli.context import DataDirOption, err, load_settings
from hugbox.cli.serve import reachable
from hugbox.observability.logs import logging_config
from hugbox.spaces.host.engine import Engine, EngineError
from hugbox.spaces.host.images import build_base_image

spaces_app = typer.Typer(help="Spaces: the host that builds, runs and serves apps.")


@spaces_app.command("serve")
def serve_spaces(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8001, help="Port of the spaces origin."),
    hub_url: str = typer.Option(
        "http://127.0.0.1:8000", help="Where the hub answers (apps reach its API through it)."
    ),
    parent_pid: int | None = typer.Option(
        None, hidden=True, help="Stop when this process is gone (`hugbox serve` passes its own)."
    ),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
    data_dir: DataDirOption = None,
) -> None:
    """Serve spaces on their own origin, building and running apps as they are asked for."""
    from hugbox.spaces.host.app import create_spaces_app  # heavy: only this command needs it

    settings = load_settings(data_dir)
    hub = hub_url.rstrip("/")
    hub_host, _, hub_port = hub.split("://", 1)[-1].partition(":")
    spaces_url = settings.spaces_url or f"http://{reachable(host)}:{port}"
    app = create_spaces_app(
        settings, hub_address=(hub_host, int(hub_port or 80)), hub_url=settings.public_url or hub,
        spaces_url=spaces_url, parent_pid=parent_pid,
    )  # fmt: skip
    # Open streams (an app's event stream, a websocket) would hold a graceful shutdown forever.
    log_config = logging_config(log_level, settings.log_format)
    uvicorn.run(app, host=host, port=port, log_config=log_config, access_log=False,
                timeout_graceful_shutdown=5)  # fmt: skip


@spaces_app.command("base-image")
def base_image(
    rootfs: Path | None = typer.Option(
        None, help="A debootstrapped Debian tree or its tarball (default: debootstrap now)."
    ),
    mirror: str = typer.Option("http://deb.debian.org/debian", help="Debian mirror."),
    force: bool = typer.Option(False, "--force", help="Import again even if it exists."),
    data_dir: DataDirOption = None,
) -> None:
    """Build the base image of space containers in the engine at HUGBOX_CONTAINER_HOST."""
    settings = load_settings(data_dir)
    if settings.container_host is None:
        err.print("[red]error:[/] set HUGBOX_CONTAINER_HOST (e.g. unix:///run/podman/podman.sock)")
        raise typer.Exit(2)
    try:
        made = asyncio.run(_base_image(settings.container_host, settings.spaces_base_image,
                                       rootfs=rootfs, mirror=mirror, force=force))  # fmt: skip
    except EngineError as error:
        err.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from error
    verb = "built" if made else "already there (--force imports it again)"
    err.print(f"{settings.spaces_base_image}: {verb}")


async def _base_image(host: str, image: str, *, rootfs: Path | None, mirror: str,
                      force: bool) -> bool:  # fmt: skip
    engine = Engine(host)
    try:
        if not force and await engine.image_exists(image):
            return False
        await build_base_image(engine, image, rootfs=rootfs, mirror=mirror)
        return True
    finally:
        await engine.close()
