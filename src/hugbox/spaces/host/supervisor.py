"""The one place apps are built, started and stopped. It reconciles each space's runtime row
(what the owner wants) with the processes on this host, wakes sleeping apps for the proxy, puts
idle ones to sleep, and keeps at most `max_running` apps up."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from hugbox.db import Database, utcnow
from hugbox.errors import HubError, ServiceUnavailable
from hugbox.repos.store import RepoStore
from hugbox.spaces.config import ConfigProblem, SdkDefaults, SpaceConfig
from hugbox.spaces.files import BUILDER_UID, SpaceFiles
from hugbox.spaces.host import builder, launch, runner, runs, state, venvs
from hugbox.spaces.host.containers import ContainerRunner
from hugbox.spaces.host.kube import KubeRunner
from hugbox.spaces.host.sandbox import SandboxLimits
from hugbox.spaces.models import SpaceStage
from hugbox.spaces.proxy.origin import Upstream

log = logging.getLogger(__name__)
T = TypeVar("T")
_RUNNING = (SpaceStage.RUNNING, SpaceStage.RUNNING_BUILDING, SpaceStage.RUNNING_APP_STARTING)
_ASLEEP = (SpaceStage.SLEEPING, SpaceStage.STOPPED)
SEEN_EVERY_S = 10.0  # how often space_runs.last_seen says a host's apps are alive
RENEW_EVERY_S = 2.0  # how often the supervising host renews its lease (runs.LEASE_TTL_S)


@dataclass(frozen=True)
class SupervisorSetup:
    database: Database
    store: RepoStore
    spaces_dir: Path
    spaces_url: str
    hub_address: tuple[str, int]
    uv_cache: Path
    sdk_defaults: SdkDefaults
    limits: SandboxLimits
    max_running: int
    default_sleep: int
    build_timeout: float
    runner: runner.Runner = field(default_factory=runner.BubblewrapRunner)
    images: ContainerRunner | None = None  # the engine of `sdk: docker` spaces, if any
    tick_s: float = 0.5


@dataclass(eq=False)
class Space:
    """What the supervisor knows of one space, and its app when one runs."""

    pk: int
    repo_id: str
    creator_id: int | None = None
    stage: SpaceStage = SpaceStage.NO_APP_FILE
    generation: int = -1
    restarts: int = -1
    factory_restarts: int = -1
    sleep_time: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    config: SpaceConfig | None = None
    built_sha: str | None = None
    failed_sha: str | None = None
    venv: Path | None = None
    venv_inode: int = -1  # of the venv the app runs on (a factory rebuild renames it aside)
    image: str | None = None  # a Docker space's built image
    app: runner.App | None = None
    upstream: Upstream | None = None
    last_active: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Supervisor:
    def __init__(self, setup: SupervisorSetup):
        self.setup = setup
        self.spaces: dict[int, Space] = {}
        self._pending: dict[int, asyncio.Task[None]] = {}
        self._watchers: set[asyncio.Task[None]] = set()
        self.venvs = venvs.Venvs(setup.spaces_dir / "venvs")
        self._venv_locks: dict[str, asyncio.Lock] = {}
        self._staging: set[str] = set()
        # Whether this host holds the lease: only then does it build, start and stop apps.
        self.leading = False
        self._renewed = 0.0

    # The loop

    async def run(self) -> None:
        """Reconcile what changed, put idle apps to sleep, say which apps run; until cancelled."""
        last_seen = 0.0
        while True:
            try:
                await self.poll()
                if not self.leading:
                    await asyncio.sleep(self.setup.tick_s)
                    continue
                await self._serve_wake_requests()
                await self._reap_idle()
                if time.monotonic() - last_seen >= SEEN_EVERY_S:
                    last_seen = time.monotonic()
                    running = [pk for pk, s in self.spaces.items() if s.app is not None]
                    await self._db(state.seen_running, self.setup.database, running,
                                   self.setup.spaces_url)  # fmt: skip
            except Exception:
                log.exception("spaces: reconcile pass failed; trying again")
            await asyncio.sleep(self.setup.tick_s)

    async def poll(self) -> None:
        """Start a reconcile of every space whose row changed or vanished, when this host
        supervises."""
        if not await self._lead():
            return
        generations = await self._db(state.generations, self.setup.database)
        for pk, generation in generations.items():
            known = self.spaces.get(pk)
            if known is None or known.generation != generation:
                self._schedule(pk)
        for pk in set(self.spaces) - set(generations):
            self._schedule(pk)

    async def _lead(self) -> bool:
        """Renew (or take) the lease; a host that lost it drops what it ran, so the new holder
        finds every space as at its own start."""
        if self.leading and time.monotonic() - self._renewed < RENEW_EVERY_S:
            return True
        leading = await self._db(runs.hold_lease, self.setup.database, self.setup.spaces_url)
        self._renewed = time.monotonic()
        if leading != self.leading:
            log.warning("spaces: this host %s supervising", "starts" if leading else "stops")
        if self.leading and not leading:
            await self._resign()
        self.leading = leading
        return leading

    async def _resign(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        spaces, self.spaces = list(self.spaces.values()), {}
        await asyncio.gather(*(self._stop(space) for space in spaces))

    async def _serve_wake_requests(self) -> None:
        """Wake what other hosts' visitors asked for (they wait on space_runs meanwhile)."""
        for pk in await self._db(runs.wake_requests, self.setup.database):
            space = self.spaces.get(pk)
            if space is None:  # nothing this host could start
                await self._db(runs.refuse_wake, self.setup.database, pk)
            elif not space.lock.locked():
                task = asyncio.create_task(self._wake_for_another(space))
                self._watchers.add(task)
                task.add_done_callback(self._watchers.discard)

    async def _wake_for_another(self, space: Space) -> None:
        try:
            upstream = await self.wake(space)
        except (HubError, TimeoutError):
            await self._db(runs.refuse_wake, self.setup.database, space.pk)
            return
        # Running already (a start that raced the request): say where.
        await self._db(runs.answer_wake, self.setup.database, space.pk, runs.encode(upstream))

    async def settle(self) -> None:
        """Wait for the reconciles under way (start-up, tests)."""
        while self._pending:
            await asyncio.gather(*self._pending.values(), return_exceptions=True)

    async def close(self) -> None:
        for task in [*self._pending.values(), *self._watchers]:
            task.cancel()
        await asyncio.gather(*(self._stop(space) for space in self.spaces.values()))
        if self.leading:
            await self._db(runs.release_lease, self.setup.database, self.setup.spaces_url)
        await self.setup.runner.close()
        if self.setup.images is not None and self.setup.images is not self.setup.runner:
            await self.setup.images.close()

    def _schedule(self, pk: int) -> None:
        if pk in self._pending:
            return
        task = asyncio.create_task(self._reconcile(pk))
        self._pending[pk] = task
        task.add_done_callback(lambda _: self._pending.pop(pk, None))

    async def _reconcile(self, pk: int) -> None:
        wishes = await self._db(state.read_wishes, self.setup.database, pk)
        if wishes is None:
            await self._forget(pk)
            return
        space = self.spaces.setdefault(pk, Space(pk=pk, repo_id=wishes.repo_id))
        async with space.lock:
            try:
                await self._apply(space, wishes)
            except Exception as exc:  # one broken space must not stop the others
                log.exception("spaces: %s failed to reconcile", space.repo_id)
                await self._observe(space, SpaceStage.RUNTIME_ERROR, error=f"hugbox: {exc}")

    async def _apply(self, space: Space, wishes: state.Wishes) -> None:
        first_look = space.generation < 0
        restart = not first_look and (wishes.restarts != space.restarts or wishes.env != space.env)
        factory = not first_look and wishes.factory_restarts != space.factory_restarts
        self._take(space, wishes)
        if wishes.paused:
            await self._stop(space)
            await self._observe(space, SpaceStage.PAUSED)
        elif first_look:
            await self._adopt(space, wishes)
        elif wishes.requested_sha and (factory or self._unbuilt(space, wishes, retry=restart)):
            await self._build(space, wishes.requested_sha, refresh=factory)
        elif restart:
            await self._start_built(space)

    @staticmethod
    def _unbuilt(space: Space, wishes: state.Wishes, *, retry: bool) -> bool:
        """The wanted commit is not built; one whose build failed is tried again on a restart
        only (not on every other wish, such as a new sleep time)."""
        sha = wishes.requested_sha
        return sha != space.built_sha and (sha != space.failed_sha or retry)

    def _take(self, space: Space, wishes: state.Wishes) -> None:
        space.repo_id, space.creator_id = wishes.repo_id, wishes.creator_id
        space.generation, space.restarts = wishes.generation, wishes.restarts
        space.factory_restarts, space.sleep_time = wishes.factory_restarts, wishes.sleep_time
        space.env, space.secrets = wishes.env, wishes.secrets
        space.stage = wishes.stage

    async def _adopt(self, space: Space, wishes: state.Wishes) -> None:
        """First look at a space since this process started: keep its build, and let it sleep
        until a visitor comes (apps of a previous process are gone)."""
        sha = wishes.built_sha
        app_dir = self._files(space).build_dir(sha or "-") / "app"
        if sha and sha == wishes.requested_sha and app_dir.is_dir():
            space.config = await self._config(space, sha)
            if await self._adopt_image(space, wishes, sha):
                return
            space.venv = await asyncio.to_thread(self._built_venv, space.config, app_dir)
            if space.config is not None and space.config.sdk == "static":
                space.built_sha = sha
                await self._serve_static(space, sha)
                return
            if space.venv is not None:
                space.built_sha = sha
                if wishes.stage in (*_RUNNING, SpaceStage.APP_STARTING, *_ASLEEP):
                    await self._observe(space, SpaceStage.SLEEPING)
                    await self._db(state.end_run, self.setup.database, space.pk)
                return
        if wishes.requested_sha:
            await self._build(space, wishes.requested_sha, refresh=False)

    async def _adopt_image(self, space: Space, wishes: state.Wishes, sha: str) -> bool:
        """A Docker space whose image the engine still has is built."""
        images = self.setup.images
        if images is None or space.config is None or space.config.sdk != "docker":
            return False
        image = images.image_name(space.pk, sha)
        if not await images.image_exists(image):
            return False
        space.built_sha, space.image = sha, image
        if wishes.stage in (*_RUNNING, SpaceStage.APP_STARTING, *_ASLEEP):
            await self._observe(space, SpaceStage.SLEEPING)
        return True

    def _built_venv(self, config: SpaceConfig | None, app_dir: Path) -> Path | None:
        if config is None or config.sdk in ("static", "docker"):
            return None
        key = _venv_key(config, app_dir)
        return self.venvs.path(key) if self.venvs.ready(key) else None

    async def _forget(self, pk: int) -> None:
        space = self.spaces.pop(pk, None)
        if space is not None:
            await self._stop(space)
            if isinstance(self.setup.runner, KubeRunner):  # its sleeping Deployment and Service
                await self.setup.runner.remove(pk)
        await asyncio.to_thread(self._files_of(pk).remove)

    # Building

    async def _build(self, space: Space, sha: str, *, refresh: bool) -> None:
        config = await self._config(space, sha)
        if config is None:
            return
        running = space.app is not None
        log.info("spaces: %s builds %s", space.repo_id, sha[:12])
        await self._observe(space, SpaceStage.RUNNING_BUILDING if running else SpaceStage.BUILDING)
        files = self._files(space)
        app_dir = files.build_dir(sha) / "app"
        await asyncio.to_thread(files.drop_builds, {space.built_sha or ""})
        await asyncio.to_thread(shutil.rmtree, app_dir, True)
        await self._db(state.write_checkout, self.setup.database, self.setup.store, space.pk,
                       sha, app_dir)  # fmt: skip
        if config.sdk == "static":
            space.config, space.built_sha = config, sha
            await self._serve_static(space, sha)
            return
        if config.sdk == "docker":
            await self._build_image(space, config, sha, app_dir)
            return
        try:
            venv = await self._environment(space, config, app_dir, refresh=refresh)
        except builder.BuildFailed as exc:
            space.failed_sha = sha
            await self._observe(space, SpaceStage.BUILD_ERROR, error=str(exc))
            return
        previous = space.built_sha
        space.config, space.built_sha, space.venv = config, sha, venv
        await self._observe(space, space.stage, built_sha=sha)
        await self._start_built(space)
        await asyncio.to_thread(files.drop_builds, {sha} if space.app else {sha, previous or ""})
        await asyncio.to_thread(self._collect_venvs)

    async def _build_image(
        self, space: Space, config: SpaceConfig, sha: str, app_dir: Path
    ) -> None:
        """A Docker space: its Dockerfile built by the engine (the config refuses `sdk: docker`
        where none is configured)."""
        images = self.setup.images
        assert images is not None
        image = images.image_name(space.pk, sha)
        log_path = self._files(space).log("build")
        await asyncio.to_thread(log_path.unlink, True)
        try:
            await images.build_image(app_dir, image, log_path, self.setup.build_timeout)
        except builder.BuildFailed as exc:
            space.failed_sha = sha
            await self._observe(space, SpaceStage.BUILD_ERROR, error=str(exc))
            return
        previous, space.image = space.image, image
        space.config, space.built_sha = config, sha
        await self._observe(space, space.stage, built_sha=sha)
        await self._start_built(space)
        if previous is not None and previous != image:
            # Once the app on it has stopped (_start_built stops it): the engine keeps an image
            # that a container still uses, and would keep this one for good.
            await images.remove_image(previous)

    async def _environment(
        self, space: Space, config: SpaceConfig, app_dir: Path, *, refresh: bool
    ) -> Path:
        """The venv for the space's requirements: an existing one, else a new build."""
        log_path = self._files(space).log("build")
        await asyncio.to_thread(log_path.unlink, True)  # the log of this build only
        key = await asyncio.to_thread(_venv_key, config, app_dir)
        async with self._venv_locks.setdefault(key, asyncio.Lock()):
            if refresh or not self.venvs.ready(key):
                staging = self.venvs.staging(key)
                self._staging.add(staging.name)
                try:
                    await builder.build(self._build_spec(space, config, app_dir, staging,
                                                         refresh=refresh))  # fmt: skip
                    return await asyncio.to_thread(self.venvs.publish, key, staging)
                finally:
                    self._staging.discard(staging.name)
        _note(log_path, f"--> same requirements as an earlier build: reusing its environment "
                        f"({key[:12]}); a factory rebuild makes a fresh one")  # fmt: skip
        return self.venvs.path(key)

    def _collect_venvs(self) -> None:
        running = {s.venv_inode for s in self.spaces.values() if s.app is not None}
        named = {s.venv.name for s in self.spaces.values() if s.venv is not None}
        self.venvs.collect(in_use=running, referenced=named | self._staging)

    def _build_spec(
        self, space: Space, config: SpaceConfig, app_dir: Path, venv: Path, *, refresh: bool
    ) -> builder.BuildSpec:
        return builder.BuildSpec(
            space_id=space.repo_id, uid=BUILDER_UID, app_dir=app_dir, venv=venv,
            python=config.python_version, sdk_requirements=config.sdk_requirements,
            cache_dir=self.setup.uv_cache, log_path=self._files(space).log("build"),
            timeout=self.setup.build_timeout, refresh=refresh, donors=self.venvs.donors(),
        )  # fmt: skip

    async def _config(self, space: Space, sha: str) -> SpaceConfig | None:
        """The config at `sha`, or None once the problem is recorded as the stage."""
        try:
            return await self._db(state.load_config, self.setup.database, self.setup.store,
                                  space.pk, sha, self.setup.sdk_defaults)  # fmt: skip
        except ConfigProblem as problem:
            await self._stop(space)
            space.built_sha = None
            await self._observe(space, problem.stage, error=problem.message, built_sha=None)
            return None

    async def _serve_static(self, space: Space, sha: str) -> None:
        assert space.config is not None
        root = self._files(space).build_dir(sha) / "app"
        space.upstream = Upstream(socket=None, static_root=root, index_file=space.config.app_file)
        await self._observe(space, SpaceStage.RUNNING, built_sha=sha, running_sha=sha)
        await self._db(state.record_run, self.setup.database, space.pk, host=self.setup.spaces_url,
                       runner="static", pod="", upstream=runs.encode(space.upstream))  # fmt: skip

    # Running

    async def _start_built(self, space: Space) -> None:
        if space.built_sha is None or space.config is None:
            return
        if space.config.sdk == "static":
            await self._serve_static(space, space.built_sha)
            return
        await self._stop(space)
        await self._make_room(space)
        await self._observe(space, SpaceStage.APP_STARTING, error=None)
        launch = self._launch(space, space.config, space.built_sha)
        space.venv_inode = await asyncio.to_thread(_fresh_start, launch)
        chosen = self._runner_of(space.config)
        app = await chosen.start(launch)
        space.app = app
        try:
            await app.wait_ready(space.config.probe_path, timeout=space.config.startup_timeout_s)
        except (runner.AppExited, TimeoutError) as exc:
            await self._stop(space)
            await self._observe(space, SpaceStage.RUNTIME_ERROR, error=_failure(exc))
            return
        strip = space.config.sdk != "streamlit"
        space.upstream = Upstream(socket=app.socket, static_root=None, strip_prefix=strip)
        space.last_active = time.monotonic()
        await self._observe(space, SpaceStage.RUNNING, running_sha=space.built_sha)
        await self._db(state.record_run, self.setup.database, space.pk,
                       host=self.setup.spaces_url, runner=chosen.kind, pod=app.pod,
                       upstream=runs.encode(space.upstream))  # fmt: skip
        self._watch(space, app)

    def _runner_of(self, config: SpaceConfig) -> runner.Runner:
        if config.sdk == "docker":
            assert self.setup.images is not None
            return self.setup.images
        return self.setup.runner

    def _launch(self, space: Space, config: SpaceConfig, sha: str) -> runner.Launch:
        files = self._files(space)
        command, port = launch.command_for(config)
        identity = launch.Identity(repo_id=space.repo_id, title=config.title,
                                   creator_id=space.creator_id,
                                   spaces_url=self.setup.spaces_url)  # fmt: skip
        env = launch.environment(config, identity, user_env=space.env,
                                 memory=self.setup.limits.memory_bytes)  # fmt: skip
        return runner.Launch(
            space_id=space.repo_id, uid=files.uid, app_dir=files.build_dir(sha) / "app",
            venv=space.venv or files.build_dir(sha) / "venv", command=command, app_port=port,
            env=env,
            run_dir=files.run_dir, hub_address=self.setup.hub_address,
            hub_port_inside=launch.HUB_PORT_INSIDE, log_path=files.log("run"),
            secrets=space.secrets, limits=self.setup.limits,
            image=space.image if config.sdk == "docker" else None, probe_path=config.probe_path,
        )  # fmt: skip

    def _watch(self, space: Space, app: runner.App) -> None:
        async def watch() -> None:
            code = await app.wait()
            if space.app is app:  # not stopped by us: it crashed or quit
                async with space.lock:
                    if space.app is app:
                        await self._stop(space)
                        message = f"The app exited with code {code}; see the run logs"
                        await self._observe(space, SpaceStage.RUNTIME_ERROR, error=message)

        task = asyncio.create_task(watch())
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _stop(self, space: Space) -> None:
        app, space.app = space.app, None
        if space.upstream is not None and space.upstream.socket is not None:
            space.upstream = None
        if app is not None:
            await app.stop()
            await self._db(state.end_run, self.setup.database, space.pk)

    async def _make_room(self, starting: Space) -> None:
        """At most `max_running` apps: the least recently used sleeps for a new one."""
        running = [s for s in self.spaces.values() if s.app is not None and s is not starting]
        running.sort(key=lambda s: s.last_active)
        while running and len(running) >= self.setup.max_running:
            victim = running.pop(0)
            log.info("spaces: %s sleeps to make room for %s", victim.repo_id, starting.repo_id)
            await self._sleep(victim)

    async def _reap_idle(self) -> None:
        await self._visits_elsewhere()
        now = time.monotonic()
        for space in list(self.spaces.values()):
            sleep = space.sleep_time if space.sleep_time is not None else self.setup.default_sleep
            idle = now - space.last_active
            if space.app is None or space.lock.locked() or sleep < 0 or idle < sleep:
                continue
            async with space.lock:
                log.info("spaces: %s sleeps after %.0f s without visitors", space.repo_id, idle)
                await self._sleep(space)

    async def _visits_elsewhere(self) -> None:
        """Visits through other spaces hosts keep an app awake as this host's own do."""
        running = {pk: s for pk, s in self.spaces.items() if s.app is not None}
        if not running:
            return
        seen = await self._db(runs.visits, self.setup.database, list(running))
        now, wall = time.monotonic(), utcnow()
        for pk, at in seen.items():
            ago = max(0.0, (wall - at).total_seconds())
            running[pk].last_active = max(running[pk].last_active, now - ago)

    async def _sleep(self, space: Space) -> None:
        await self._stop(space)
        await self._observe(space, SpaceStage.SLEEPING)

    async def wake(self, space: Space) -> Upstream:
        """The app's upstream, starting it first if it sleeps (the proxy waits on this)."""
        if space.upstream is None:
            async with space.lock:
                if space.upstream is None and space.stage in (*_ASLEEP, *_RUNNING):
                    await self._start_built(space)
        return _upstream_or_503(space)

    def touch(self, space: Space) -> None:
        space.last_active = time.monotonic()

    # Helpers

    async def _observe(self, space: Space, stage: SpaceStage, **fields: Any) -> None:
        space.stage = stage
        await self._db(state.observe, self.setup.database, space.pk, stage, **fields)

    def _files(self, space: Space) -> SpaceFiles:
        return self._files_of(space.pk)

    def _files_of(self, pk: int) -> SpaceFiles:
        return SpaceFiles(self.setup.spaces_dir, pk)

    @staticmethod
    async def _db(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(function, *args, **kwargs)


def _venv_key(config: SpaceConfig, app_dir: Path) -> str:
    """Which shared venv the space runs on: its interpreter, SDK and dependency files."""
    python, _ = builder.host_python(config.python_version)
    return venvs.key(app_dir, python=python, sdk_requirements=config.sdk_requirements)


def _fresh_start(launch: runner.Launch) -> int:
    """The run log shows this run only; the venv's marker says when it was last used. Returns
    the venv's inode: it names the venv even once a factory rebuild renamed it aside."""
    launch.log_path.unlink(missing_ok=True)
    if launch.image is not None:
        return -1  # a Docker space runs on no venv
    (launch.venv / venvs.READY).touch()
    return launch.venv.stat().st_ino


def _note(log_path: Path, line: str) -> None:
    log = runner.RunLog(log_path)
    log.write(line)
    log.close()


def _upstream_or_503(space: Space) -> Upstream:
    if space.upstream is None:
        raise ServiceUnavailable(why_not_running(space), headers={"Retry-After": "5"})
    return space.upstream


def _failure(exc: Exception) -> str:
    if isinstance(exc, runner.AppExited):
        return f"The app exited with code {exc.returncode} before it answered; see the run logs"
    return "The app did not answer before its startup timeout; see the run logs"


_WHY = {
    SpaceStage.BUILDING: "The space is building; it starts when the build is done",
    SpaceStage.RUNNING_BUILDING: "The space is building",
    SpaceStage.APP_STARTING: "The space is starting",
    SpaceStage.PAUSED: "The space is paused by its owner",
    SpaceStage.NO_APP_FILE: "The space has no application file yet",
}


def why_not_running(space: Space) -> str:
    reason = _WHY.get(space.stage, f"The space cannot run ({space.stage.value})")
    return f"{reason}: see its page on the hub for the logs"
