"""Runs space apps in containers through a Docker-compatible engine (Docker, or podman's API
service): the generic base image with the space's venv and checkout mounted read-only, no
network but the same Unix-socket bridge as under bubblewrap, and the spaces limits."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hugbox.spaces.host import bridge, images, runner
from hugbox.spaces.host.builder import BuildFailed
from hugbox.spaces.host.engine import Engine, EngineError
from hugbox.spaces.host.runner import APP_MOUNT, BRIDGE_MOUNT, RUN_MOUNT, VENV_MOUNT, Launch
from hugbox.spaces.host.sandbox import HOME, is_root

log = logging.getLogger(__name__)

BOX_MOUNT = "/run/hugbox-app"  # the one host dir the container writes: app.sock
PREFIX = "hugbox-space-"
DOCKER_SPACE_UID = 1000
SPACE_LABEL = "org.hugbox.space"
HUB_LABEL = "org.hugbox.hub"
LOG_GRACE_S = 2.0  # for the last lines of an exited container to arrive


@dataclass(frozen=True)
class ContainerImage:
    """What the container runs: the generic base image, or a space's own built image."""

    name: str
    # For `sdk: docker` the image's own command runs; our bridge runs beside it, in a second
    # container of the base image that shares its network namespace.
    own_command: bool = False


class ContainerRunner:
    kind = "container"

    def __init__(self, engine: Engine, base_image: str, spaces_dir: Path) -> None:
        self.engine = engine
        self.base_image = base_image
        self.hub = hub_tag(spaces_dir)

    async def start(self, launch: Launch) -> runner.App:
        if launch.image is not None:  # a Docker space: its own image, our bridge beside it
            own = ContainerImage(launch.image, own_command=True)
            return await start(self.engine, launch, own, base_image=self.base_image)
        return await start(self.engine, launch, ContainerImage(self.base_image))

    async def build_image(
        self,
        app_dir: Path,
        image: str,
        log_path: Path,
        timeout: float,  # noqa: ASYNC109
    ) -> None:
        """Build a Docker space's Dockerfile as `image`, its output in the build log;
        BuildFailed when the engine refuses it or it takes past `timeout` seconds."""
        build_log = runner.RunLog(log_path)
        try:
            async with asyncio.timeout(timeout):
                await self._build(app_dir, image, build_log)
        except EngineError as error:
            build_log.write(f"--> build failed: {error}")
            raise BuildFailed(f"The Docker build failed: {error}") from error
        except TimeoutError as error:
            build_log.write(f"--> build timed out after {timeout:.0f} s")
            raise BuildFailed(f"The Docker build took more than {timeout:.0f} s") from error
        finally:
            build_log.close()

    async def _build(self, app_dir: Path, image: str, build_log: runner.RunLog) -> None:
        with tempfile.TemporaryDirectory(prefix="hugbox-build-") as scratch:
            context = await asyncio.to_thread(images.build_context, app_dir, Path(scratch))
            lines = self.engine.build(context, image, dockerfile=images.DOCKERFILE_IN_CONTEXT)
            async for line in lines:
                build_log.write(line)

    def image_name(self, pk: int, sha: str) -> str:
        """A Docker space's image at a commit, named per hub (hubs may share one engine)."""
        return f"localhost/{PREFIX}{self.hub}-{pk}:{sha[:12]}"

    async def remove_image(self, image: str) -> None:
        """Best effort: an image still in use, or already gone, stays as it is."""
        with contextlib.suppress(EngineError):
            await self.engine.call("DELETE", f"/images/{image}", ok=(200, 404))

    async def image_exists(self, image: str) -> bool:
        try:
            return await self.engine.image_exists(image)
        except EngineError:
            return False

    async def close(self) -> None:
        await self.engine.close()

    async def sweep(self) -> None:
        """Remove the containers a previous spaces host of this hub left (killed before it
        stopped them): apps start afresh, as under bubblewrap."""
        names = await self.engine.containers(f"{HUB_LABEL}={self.hub}")
        for name in sorted(names, key=lambda n: not n.endswith("-bridge")):  # bridges first
            log.info("spaces: removing %s, left by an earlier spaces host", name)
            await self.engine.remove(name)

    async def problem(self) -> str | None:
        """Why apps cannot run, or None."""
        try:
            if not await self.engine.image_exists(self.base_image):
                return f"no image {self.base_image}: run `hugbox spaces base-image`"
        except EngineError as error:
            return str(error)
        return None


class ContainerApp:
    """A started container (and its bridge's, for a Docker space)."""

    def __init__(self, engine: Engine, containers: list[str], hub: runner.HubBridge,
                 box: Path, log_to: runner.RunLog, name: str) -> None:  # fmt: skip
        self.pod = name
        self._engine = engine
        self._containers = containers  # the app's first
        self._hub = hub
        self._box = box
        self._log = log_to
        self._stopping = asyncio.Lock()
        self.socket = box / "app.sock"
        self.returncode: int | None = None
        self._pump = asyncio.create_task(self._copy_logs())
        self._exit = asyncio.create_task(self._wait_exit())

    @property
    def tail(self) -> list[str]:
        return list(self._log.tail)

    async def wait_ready(self, probe_path: str, timeout: float) -> None:  # noqa: ASYNC109
        await runner.wait_ready(self, probe_path, timeout)

    async def wait(self) -> int:
        code = await asyncio.shield(self._exit)
        # The engine ends the log stream once the container has exited; a stream that lags
        # (podman's follow can) must not keep a stop from removing the container.
        if not self._pump.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pump), LOG_GRACE_S)
            self._pump.cancel()
        self._log.close()
        return code

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to the app (through the bridge), SIGKILL after `grace`; removes it all."""
        async with self._stopping:
            for container in self._containers:
                await self._engine.stop(container, grace)
            await self.wait()
            for container in reversed(self._containers):  # the bridge depends on the app
                await self._engine.remove(container)
            self._hub.close()
            self.socket.unlink(missing_ok=True)

    async def _wait_exit(self) -> int:
        try:
            code = await self._engine.wait(self._containers[0])
        except EngineError as error:
            log.warning("spaces: lost track of %s: %s", self._containers[0], error)
            code = -1
        self.returncode = code
        return code

    async def _copy_logs(self) -> None:
        """The container's output, line by line into the run log (as under bubblewrap)."""
        reader = asyncio.StreamReader()
        pump = asyncio.create_task(runner.pump(reader, self._log))
        try:
            for container in self._containers[:1]:
                async for data in self._engine.logs(container):
                    reader.feed_data(data)
        except EngineError as error:
            log.warning("spaces: no logs from %s: %s", self._containers[0], error)
        finally:
            reader.feed_eof()
            await pump


async def start(engine: Engine, launch: Launch, image: ContainerImage,
                base_image: str | None = None) -> ContainerApp:  # fmt: skip
    """Start the app's container; it answers on ContainerApp.socket once wait_ready returns."""
    log_to = runner.RunLog(launch.log_path, launch.secrets)
    hub = runner.HubBridge(launch.hub_address)
    name = container_name(launch)
    names = [name, f"{name}-bridge"] if image.own_command else [name]
    try:
        box = await asyncio.to_thread(_prepare, launch)
        await hub.open(launch.run_dir / "hub.sock", launch.uid)
        await _remove(engine, name)  # of a host that died without stopping them
        ids = await _create(engine, launch, image, box, names, base_image)
        for container in ids:
            await engine.start(container)
    except BaseException:
        hub.close()
        log_to.close()
        await asyncio.shield(_remove(engine, name))
        raise
    return ContainerApp(engine, ids, hub, box, log_to, name)


async def _create(engine: Engine, launch: Launch, image: ContainerImage, box: Path,
                  names: list[str], base_image: str | None) -> list[str]:  # fmt: skip
    if not image.own_command:
        return [await engine.create_container(names[0], _bridged_app(launch, image.name, box))]
    app = await engine.create_container(names[0], _own_app(launch, image.name))
    assert base_image is not None
    beside = _bridge_only(launch, base_image, box, app)
    return [app, await engine.create_container(names[1], beside)]


async def _remove(engine: Engine, name: str) -> None:
    """The space's containers, if any; the bridge first (it depends on the app's)."""
    for container in (f"{name}-bridge", name):
        with contextlib.suppress(EngineError):
            await engine.remove(container)


def hub_tag(spaces_dir: Path) -> str:
    """Names this hub's containers: hubs with data dirs of their own may share one engine."""
    return hashlib.sha256(str(spaces_dir).encode()).hexdigest()[:8]


def _spaces_dir(launch: Launch) -> Path:
    return launch.run_dir.parent.parent  # <spaces dir>/<pk>/run


def container_name(launch: Launch) -> str:
    return f"{PREFIX}{hub_tag(_spaces_dir(launch))}-{launch.uid}"


def _prepare(launch: Launch) -> Path:
    """The run dir with hub.sock as under bubblewrap, and the box: a dir of the space's own
    where its bridge makes app.sock, holding the launch config until the bridge reads it."""
    runner.prepare_run_dir(launch.run_dir)
    box = launch.run_dir / "app"
    box.mkdir(mode=0o700, exist_ok=True)
    for leftover in box.iterdir():
        leftover.unlink()
    if is_root():
        os.chown(box, launch.uid, launch.uid)
    return box


def _write_config(launch: Launch, box: Path, config: dict[str, object]) -> None:
    path = box / "launch.json"
    path.write_text(json.dumps(config))
    runner.hand_over(path, launch.uid)


def _bridged_app(launch: Launch, image: str, box: Path) -> dict[str, Any]:
    """The generic image running our bridge, which copies and starts the app (as bubblewrap)."""
    _write_config(launch, box, runner.bridge_config(launch, f"{BOX_MOUNT}/app.sock"))
    binds = [f"{launch.app_dir}:{APP_MOUNT}:ro", f"{launch.venv}:{VENV_MOUNT}:ro"]
    binds += _bridge_binds(launch, box)
    argv = [f"{VENV_MOUNT}/bin/python", "-I", "-S", BRIDGE_MOUNT, f"{BOX_MOUNT}/launch.json"]
    return _spec(launch, image, argv, binds, network="none")


def _own_app(launch: Launch, image: str) -> dict[str, Any]:
    """A space's own image with its own command; the environment as HF gives it."""
    spec = _spec(launch, image, None, [], network="none")
    spec["Env"] = [f"{key}={value}" for key, value in launch.env.items()]
    spec["HostConfig"]["ReadonlyRootfs"] = False  # Docker spaces write where they were built
    # HF runs Docker spaces as uid 1000, and their Dockerfiles chown their files to it.
    spec["User"] = str(DOCKER_SPACE_UID)
    del spec["WorkingDir"]
    return spec


def _bridge_only(launch: Launch, base_image: str, box: Path, app: str) -> dict[str, Any]:
    """The bridge alone, in the app's network namespace: app.sock to its port, the hub to
    127.0.0.1:8000; it runs no app (the other container does)."""
    config = {**runner.bridge_config(launch, f"{BOX_MOUNT}/app.sock"), "command": None}
    _write_config(launch, box, config)
    argv = ["/usr/bin/python3", "-I", "-S", BRIDGE_MOUNT, f"{BOX_MOUNT}/launch.json"]
    return _spec(launch, base_image, argv, _bridge_binds(launch, box), network=f"container:{app}")


def _bridge_binds(launch: Launch, box: Path) -> list[str]:
    return [
        f"{launch.run_dir}:{RUN_MOUNT}:ro",  # hub.sock: connecting writes nothing
        f"{box}:{BOX_MOUNT}:rw",
        f"{Path(bridge.__file__)}:{BRIDGE_MOUNT}:ro",
    ]


def _cpu_shares(nice: int) -> int:
    """Spaces never starve the hub: bubblewrap runs apps at `nice`, a container gets the CPU
    weight the scheduler gives that nice level (each step is 1.25x) against the default 1024."""
    return max(2, round(1024 / 1.25**nice))


def _spec(launch: Launch, image: str, argv: list[str] | None, binds: list[str], *,
          network: str) -> dict[str, Any]:  # fmt: skip
    limits = launch.limits
    # tmpfs pages are charged to the container's memory: home, /tmp and /dev/shm, as bubblewrap.
    memory = limits.memory_bytes + 2 * limits.disk_bytes
    tmpfs = {HOME: f"size={limits.disk_bytes},mode=1777",
             "/tmp": f"size={limits.disk_bytes // 2},mode=1777"}  # fmt: skip # noqa: S108
    spec: dict[str, Any] = {
        "Image": image,
        "User": f"{launch.uid}:{launch.uid}",
        "Env": [f"HOME={HOME}", "LANG=C.UTF-8", f"PATH={VENV_MOUNT}/bin:/usr/bin:/bin"],
        "WorkingDir": "/",
        "Hostname": "space",
        "Labels": {SPACE_LABEL: launch.space_id, HUB_LABEL: hub_tag(_spaces_dir(launch))},
        "HostConfig": {
            "NetworkMode": network,
            "Binds": binds,
            "Tmpfs": tmpfs,
            "ShmSize": limits.disk_bytes // 2,
            "Memory": memory,
            "MemorySwap": memory,  # no swap beyond it: past the limit the app is OOM-killed
            "PidsLimit": limits.processes,
            "CpuShares": _cpu_shares(limits.nice),
            "ReadonlyRootfs": True,
            "CapDrop": ["ALL"],
            "SecurityOpt": ["no-new-privileges"],
        },
    }
    if argv is not None:
        spec["Cmd"] = argv
        spec["Entrypoint"] = []
    return spec
