"""Builds a space's venv with uv, from wheels only, in a sandbox that sees PyPI but not the host."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uv

from hugbox.spaces.host import bytecode
from hugbox.spaces.host.runner import RunLog, spawn
from hugbox.spaces.host.sandbox import HOME, Bind, Sandbox, SandboxLimits, is_root

UV_MOUNT = "/opt/uv/uv"
APP_MOUNT = "/opt/app"
VENV_MOUNT = "/opt/venv"  # the same path the app runs it at, so its scripts' shebangs work
CACHE_MOUNT = "/opt/uv-cache"
# uv's threads count as processes; its downloads and bytecode go to bound dirs, not the tmpfs.
BUILD_LIMITS = SandboxLimits(
    memory_bytes=4 << 30, processes=1024, open_files=4096, disk_bytes=1 << 30
)
# The hub operator's own choices, passed on; none of the host's pip settings are.
_PASSED_ENV = (
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_NATIVE_TLS",
    "UV_SYSTEM_CERTS",
    "SSL_CERT_FILE",  # under /etc/ssl/certs to be seen inside
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)
_DEBIAN_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?")
_NO_WHEEL = re.compile(
    r"Wheels are required for `([^`]+)`|versions? of (\S+) (?:has|have) no usable"
)


@dataclass(frozen=True)
class BuildSpec:
    space_id: str
    uid: int  # the shared builder uid, when the hub is root
    app_dir: Path  # checkout: read-only in the build
    venv: Path  # created; a fresh dir per commit
    python: str  # requested python_version ("3.10", "3.11.4") or ""
    sdk_requirements: list[str]  # e.g. ["gradio==6.31.0"]
    cache_dir: Path  # shared UV_CACHE_DIR
    log_path: Path  # JSON lines, like the run log
    timeout: float
    refresh: bool = False  # factory rebuild: ignore cached resolutions
    donors: tuple[Path, ...] = ()  # finished venvs whose bytecode may be borrowed


class BuildFailed(Exception):
    """One line saying why; the details are in the build log."""


async def build(spec: BuildSpec) -> None:
    """Create spec.venv and install the space's requirements into it, or raise BuildFailed."""
    log = RunLog(spec.log_path)
    started = time.monotonic()
    try:
        async with asyncio.timeout(spec.timeout):
            await _build(spec, log)
    except TimeoutError:
        failure = BuildFailed(f"the build took longer than its {spec.timeout:.0f} s limit")
        log.write(f"--> build failed after {time.monotonic() - started:.1f} s: {failure}")
        raise failure from None
    except BuildFailed as failure:
        log.write(f"--> build failed after {time.monotonic() - started:.1f} s: {failure}")
        raise
    else:
        log.write(f"--> build done in {time.monotonic() - started:.1f} s")
    finally:
        log.close()


async def _build(spec: BuildSpec, log: RunLog) -> None:
    log.write(f"--> building {spec.space_id}")
    await asyncio.to_thread(_check_packages, spec.app_dir, log)
    python, warning = host_python(spec.python)
    if warning:
        log.write(f"--> warning: {warning}")
    await asyncio.to_thread(_prepare_dirs, spec)
    await _step(
        spec, log, "create the venv", ["venv", "--no-project", "--python", python, VENV_MOUNT]
    )
    for title, requirements in _installs(spec):
        await _step(spec, log, title, _pip_install(spec, requirements))
    await _compile(spec, log)
    await asyncio.to_thread(_publish, spec.venv)


async def _compile(spec: BuildSpec, log: RunLog) -> None:
    """Bytecode: borrowed where another venv has the same file, compiled for the rest."""
    owner = spec.uid if is_root() else None
    started = time.monotonic()
    borrowed = await asyncio.to_thread(bytecode.borrow, spec.venv, spec.donors, owner=owner)
    log.write(f"--> bytecode: {borrowed} files shared with earlier builds "
              f"({time.monotonic() - started:.1f} s)")  # fmt: skip
    command = [
        f"{VENV_MOUNT}/bin/python",
        "-I",
        "-c",
        bytecode.COMPILE_MISSING,
        f"{VENV_MOUNT}/lib",
    ]
    await _run(spec, log, "compile the rest", command)


def _installs(spec: BuildSpec) -> list[tuple[str, list[str]]]:
    """pre-requirements.txt first (HF's order), then the SDK with requirements.txt."""
    steps = []
    if os.path.lexists(spec.app_dir / "pre-requirements.txt"):
        steps.append(("install pre-requirements.txt", ["-r", f"{APP_MOUNT}/pre-requirements.txt"]))
    main = list(spec.sdk_requirements)
    if os.path.lexists(spec.app_dir / "requirements.txt"):
        main += ["-r", f"{APP_MOUNT}/requirements.txt"]
    if main:
        steps.append(("install requirements", main))
    return steps


def _pip_install(spec: BuildSpec, requirements: list[str]) -> list[str]:
    # --no-build: wheels only, so no package code runs at build time. Bytecode comes after
    # (`_compile`): the venv is read-only when the app runs.
    args = ["pip", "install", "--python", f"{VENV_MOUNT}/bin/python", "--no-build"]
    return [*args, "--refresh", *requirements] if spec.refresh else [*args, *requirements]


async def _step(spec: BuildSpec, log: RunLog, title: str, uv_args: list[str]) -> None:
    log.write(f"--> {title}: uv {' '.join(uv_args)}")
    await _run(spec, log, title, [UV_MOUNT, *uv_args])


async def _run(spec: BuildSpec, log: RunLog, title: str, command: list[str]) -> None:
    started = time.monotonic()
    process = await spawn(_sandbox(spec), command, log)
    try:
        code = await process.wait()
    finally:
        await process.stop(grace=0)  # after a timeout: nothing of the build may go on
    elapsed = time.monotonic() - started
    if code != 0:
        reason = _reason(title, process.tail)
        log.write(f"--> {title} failed after {elapsed:.1f} s (exit code {code}): {reason}")
        raise BuildFailed(reason)
    log.write(f"--> {title}: done in {elapsed:.1f} s")


def _reason(title: str, tail: list[str]) -> str:
    """One line from uv's output: a missing wheel said plainly, else uv's own error."""
    text = "\n".join(tail)
    packages = sorted({a or b for a, b in _NO_WHEEL.findall(text)})
    if packages:
        verb = "has" if len(packages) == 1 else "have"
        return (
            f"{', '.join(packages)} {verb} no wheel for this platform, and spaces install "
            "wheels only (no package code runs at build time)"
        )
    errors = [i for i, line in enumerate(tail) if line.startswith("error:")]
    if not errors:
        return f"{title} failed; see the build log"
    first = errors[-1]
    causes = [line.strip().removeprefix("cause: ") for line in tail[first + 1 : first + 3]]
    return ": ".join([tail[first].removeprefix("error: "), *filter(None, causes)])


def _sandbox(spec: BuildSpec) -> Sandbox:
    binds = (
        Bind(Path(uv.find_uv_bin()), UV_MOUNT),
        Bind(spec.app_dir, APP_MOUNT),
        Bind(spec.venv, VENV_MOUNT, writable=True),
        Bind(spec.cache_dir, CACHE_MOUNT, writable=True),
    )
    return Sandbox(uid=spec.uid, limits=BUILD_LIMITS, binds=binds, env=_uv_env(), network=True)


def _uv_env() -> dict[str, str]:
    env = {
        "HOME": HOME,
        "UV_CACHE_DIR": CACHE_MOUNT,
        "UV_NO_CONFIG": "1",  # no uv.toml from the app's checkout or anywhere else
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_PYTHON_PREFERENCE": "only-system",
        "UV_LINK_MODE": "copy",  # the cache and the venv are different mounts
        "UV_NO_PROGRESS": "1",
        "NO_COLOR": "1",
    }
    if Path("/etc/ssl/certs").is_dir():
        # The host's trust store, bound read-only: it has the CA of a TLS-inspecting proxy,
        # if the operator added one.
        env["UV_SYSTEM_CERTS"] = "1"
    passed = {name: os.environ[name] for name in _PASSED_ENV if name in os.environ}
    if "UV_INDEX_URL" not in passed and "UV_DEFAULT_INDEX" not in passed:
        env["UV_DEFAULT_INDEX"] = "https://pypi.org/simple"
    return {**env, **passed}


def _prepare_dirs(spec: BuildSpec) -> None:
    """The builder uid writes the venv and the cache; nothing else of the host."""
    if spec.venv.exists():
        shutil.rmtree(spec.venv)  # what a failed build left; rmtree never follows links
    spec.venv.mkdir(parents=True)
    spec.cache_dir.mkdir(parents=True, exist_ok=True)
    if not is_root():
        return
    os.chown(spec.venv, spec.uid, spec.uid)
    if spec.cache_dir.stat().st_uid != spec.uid:
        _chown_tree(spec.cache_dir, spec.uid)


def _tree(top: Path) -> Iterator[Path]:
    """`top` and everything below it, parents first; links are listed, never followed."""
    yield top
    for directory, dirnames, filenames in os.walk(top):
        for name in [*dirnames, *filenames]:
            yield Path(directory) / name


def _chown_tree(top: Path, uid: int) -> None:
    for path in _tree(top):
        os.chown(path, uid, uid, follow_symlinks=False)


def _publish(venv: Path) -> None:
    """Give the venv to root and let every space read it (each runs it as its own uid).
    Ownership goes first, never following links, so nothing the build left behind can turn
    the chmod towards a host file."""
    if is_root():
        _chown_tree(venv, 0)
    for path in _tree(venv):
        _make_readable(path)


def _make_readable(path: Path) -> None:
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode):
        return
    readable = 0o555 if stat.S_ISDIR(mode) or mode & stat.S_IXUSR else 0o444
    path.chmod((mode | readable) & 0o755)


def _check_packages(app_dir: Path, log: RunLog) -> None:
    """Debian packages cannot be installed per space: accept packages.txt when the host
    already has them all."""
    names = _package_names(app_dir / "packages.txt")
    if not names:
        return
    missing = [name for name in names if not _installed(name)]
    if missing:
        raise BuildFailed(
            f"packages.txt asks for {', '.join(missing)}: this host installs no Debian "
            "packages for spaces; ask the operator to install them"
        )
    log.write(f"--> packages.txt: {', '.join(names)} already on this host")


def _package_names(path: Path) -> list[str]:
    try:
        # Never followed: a link to /etc/shadow would otherwise end up in the build error.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # absent, or a link
        return []
    with os.fdopen(fd, encoding="utf-8", errors="replace") as source:
        text = source.read(64 * 1024)
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [name for line in lines for name in line.split()]


def _installed(name: str) -> bool:
    if not _DEBIAN_NAME.fullmatch(name):
        return False
    try:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${db:Status-Status}", name],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except FileNotFoundError:  # not a Debian host
        return False
    return done.returncode == 0 and done.stdout.strip() == "installed"


def host_python(requested: str) -> tuple[str, str | None]:
    """The /usr/bin/python3.X nearest to `requested` (only /usr is visible in the sandbox), and
    a warning line when it is not what was asked."""
    found = _host_pythons()
    if not found:
        raise BuildFailed("this host has no /usr/bin/python3.X: install python3")
    wanted = re.fullmatch(r"3\.(\d+)(?:\.(\d+))?", requested.strip())
    if wanted is None:
        minor = _default_minor(found)
        if not requested.strip():
            return found[minor], None
        return found[minor], f"python_version {requested!r} is not 3.X or 3.X.Y: using 3.{minor}"
    minor = min(found, key=lambda m: (abs(m - int(wanted[1])), -m))
    path = found[minor]
    if minor != int(wanted[1]):
        return path, f"python_version {requested}: this host has no 3.{wanted[1]}, using {path}"
    actual = _version_of(path)
    if wanted[2] is not None and actual != requested.strip():
        return path, f"python_version {requested}: using {path} ({actual}), the host's 3.{minor}"
    return path, None


def _host_pythons() -> dict[int, str]:
    found = {}
    for path in Path("/usr/bin").glob("python3.*"):
        match = re.fullmatch(r"python3\.(\d+)", path.name)
        if match and os.access(path, os.X_OK):
            found[int(match[1])] = str(path)
    return found


def _default_minor(found: dict[int, str]) -> int:
    """Debian's own python3, else the newest."""
    default = re.fullmatch(r"python3\.(\d+)", Path("/usr/bin/python3").resolve().name)
    if default and int(default[1]) in found:
        return int(default[1])
    return max(found)


@functools.cache
def _version_of(python: str) -> str:
    done = subprocess.run([python, "-V"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip().removeprefix("Python ")
