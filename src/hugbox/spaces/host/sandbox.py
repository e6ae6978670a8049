"""Command lines that run a program under bubblewrap as an unprivileged uid, with limits."""

from __future__ import annotations

import functools
import logging
import os
import resource
import shutil
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

HOME = "/home/user"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Root (when the hub is root) bind-mounts every source here, in a mount namespace of its own,
# because bwrap resolves bind sources by path as the unprivileged uid: that uid could not
# traverse a private data dir (bwrap's --bind-fd realpaths its fd too). Each sandbox mounts its
# own tmpfs over this one empty, root-owned directory; the host never sees those mounts.
STAGE_DIR = Path("/run/hugbox-sandbox")
_USERS = (
    "root:x:0:0:root:/root:/usr/sbin/nologin\n"
    "user:x:1000:1000::/home/user:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
)
_GROUP = "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n"
_HOSTS = "127.0.0.1 localhost space\n::1 localhost ip6-localhost ip6-loopback\n"
# Public host files programs expect; /etc/ssl/private is left out on purpose. ld.so.cache finds
# libraries in ld.so.conf.d dirs, alternatives backs many /usr/bin links.
_HOST_ETC = (
    "ssl/certs",
    "ssl/openssl.cnf",
    "mime.types",
    "localtime",
    "ld.so.cache",
    "alternatives",
)
_ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# Runs as root before the uid switch: joins the memory cgroup, then binds each source at
# $stage/<index> so that bwrap, running as the space's uid, can reach it.
_STAGE_SCRIPT = """set -eu
mount=$1 mkdir=$2 stage=$3 cgroup=$4
shift 4
if [ -n "$cgroup" ]; then echo $$ > "$cgroup/cgroup.procs"; fi
"$mount" -t tmpfs -o mode=0755,size=1m,nosuid,nodev hugbox-stage "$stage"
n=0
while [ "$1" != "--" ]; do
  if [ -d "$1" ]; then "$mkdir" "$stage/$n"; else : > "$stage/$n"; fi
  "$mount" --bind "$1" "$stage/$n"
  n=$((n + 1))
  shift
done
shift
exec "$@"
"""


@dataclass(frozen=True)
class SandboxLimits:
    memory_bytes: int  # RLIMIT_DATA per process, and the memory cgroup when one can be made
    processes: int  # RLIMIT_NPROC of the uid: threads count too
    open_files: int  # RLIMIT_NOFILE
    disk_bytes: int  # tmpfs at /home/user; /tmp and /dev/shm get half each
    nice: int = 10  # spaces never starve the hub


@dataclass(frozen=True)
class Bind:
    source: Path
    target: str
    writable: bool = False


@dataclass(frozen=True)
class Sandbox:
    """What one sandbox sees. `env` is also the environment of the helpers that run as root
    before the uid switch, so only the hub's own values belong there, never a space's."""

    uid: int  # outside uid when the hub is root; ignored otherwise
    limits: SandboxLimits
    binds: tuple[Bind, ...] = ()
    files: tuple[tuple[str, bytes], ...] = ()  # (target, content): read-only files from memory
    env: Mapping[str, str] = field(default_factory=dict)
    network: bool = False  # builds reach PyPI; apps get only their own loopback
    cwd: str = HOME
    cgroup: Path | None = None  # from make_cgroup()


@dataclass
class Command:
    """An argv ready for subprocess: pass `pass_fds` and `env`, then close()."""

    argv: list[str]
    pass_fds: tuple[int, ...]
    env: dict[str, str]
    _owned_fds: list[int] = field(default_factory=list)

    def close(self) -> None:
        for fd in self._owned_fds:
            os.close(fd)
        self._owned_fds.clear()


def is_root() -> bool:
    return os.geteuid() == 0


def command(
    sandbox: Sandbox, argv: Sequence[str], keep_fds: Sequence[int] = (), status_fd: int = -1
) -> Command:
    """The command line running `argv` inside `sandbox`; `keep_fds` stay open inside it.
    bwrap writes {"child-pid": <host pid of the sandbox's init>} to `status_fd`, if given."""
    if is_root() and sandbox.uid == 0:
        raise ValueError("a sandbox never runs as root: give it an unprivileged uid")
    owned: list[int] = []
    bwrap = _bwrap_args(sandbox, _staged_sources(sandbox), owned)
    if status_fd >= 0:
        bwrap += ["--json-status-fd", str(status_fd)]
        keep_fds = (*keep_fds, status_fd)
    env = {"PATH": SYSTEM_PATH, "HOME": HOME, "LANG": "C.UTF-8", **sandbox.env}
    fds = (*owned, *keep_fds)
    return Command([*_privileged_prefix(sandbox), *bwrap, "--", *argv], fds, env, owned)


def _privileged_prefix(sandbox: Sandbox) -> list[str]:
    """Everything before bwrap: staging and uid switch when root, then limits and nice."""
    limits = _prlimit_args(sandbox.limits)
    nice = [_tool("nice"), "-n", str(sandbox.limits.nice)]
    if not is_root():
        _warn_not_root()
        return limits + nice
    cgroup = str(sandbox.cgroup) if sandbox.cgroup else ""
    stage = [_tool("unshare"), "--mount", "--propagation", "private", "--", "/bin/sh", "-c"]
    stage += [_STAGE_SCRIPT, "hugbox-stage", _tool("mount"), _tool("mkdir"), str(_stage_dir())]
    stage += [cgroup, *(str(bind.source) for bind in sandbox.binds), "--"]
    uid = str(sandbox.uid)
    setpriv = [_tool("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    return stage + limits + setpriv + ["--no-new-privs", "--"] + nice


def _staged_sources(sandbox: Sandbox) -> list[str]:
    if not is_root():
        return [str(bind.source) for bind in sandbox.binds]
    return [str(STAGE_DIR / str(index)) for index in range(len(sandbox.binds))]


def _prlimit_args(limits: SandboxLimits) -> list[str]:
    nproc = limits.processes
    if not is_root():
        # Without a uid of its own the sandbox shares the hub's process count.
        nproc += _count_processes(os.getuid())
    values = {
        "nproc": (nproc, resource.RLIMIT_NPROC),
        "nofile": (limits.open_files, resource.RLIMIT_NOFILE),
        "data": (limits.memory_bytes, resource.RLIMIT_DATA),
        "core": (0, resource.RLIMIT_CORE),
    }
    args = [_tool("prlimit")]
    for name, (value, which) in values.items():
        args.append(f"--{name}={_within_hard_limit(value, which)}")
    return [*args, "--"]


def _within_hard_limit(value: int, which: int) -> int:
    """Only root may raise a hard limit."""
    hard = resource.getrlimit(which)[1]
    if is_root() or hard == resource.RLIM_INFINITY:
        return value
    return min(value, hard)


def _bwrap_args(sandbox: Sandbox, sources: list[str], owned: list[int]) -> list[str]:
    args = [_tool("bwrap"), *_identity_args(sandbox.network), *_system_args()]
    args += _etc_args(sandbox.network, owned)
    for bind, source in zip(sandbox.binds, sources, strict=True):
        args += ["--bind" if bind.writable else "--ro-bind", source, bind.target]
    for target, content in sandbox.files:
        args += ["--ro-bind-data", str(_owned(memory_file(target, content), owned)), target]
    disk = sandbox.limits.disk_bytes
    args += ["--size", str(disk), "--tmpfs", HOME]
    for scratch in ("/tmp", "/dev/shm"):  # noqa: S108 (the sandbox's own)
        args += ["--size", str(disk // 2), "--tmpfs", scratch]
    # Only those tmpfs stay writable: bwrap's own root and /dev have no size limit.
    args += ["--remount-ro", "/dev", "--remount-ro", "/"]
    return [*args, "--chdir", sandbox.cwd]


def _identity_args(network: bool) -> list[str]:
    args = ["--unshare-all", "--unshare-user", "--uid", "1000", "--gid", "1000"]
    if _disable_userns_works():
        args.append("--disable-userns")
    if network:
        args.append("--share-net")
    args += ["--hostname", "space", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    return args


def _system_args() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev"]
    for name in _ROOT_LINKS:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", str(path.readlink()), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _etc_args(network: bool, owned: list[int]) -> list[str]:
    args: list[str] = []
    for name, content in (("passwd", _USERS), ("group", _GROUP), ("hosts", _HOSTS)):
        target = f"/etc/{name}"
        fd = _owned(memory_file(target, content.encode()), owned)
        args += ["--ro-bind-data", str(fd), target]
    names = (*_HOST_ETC, "resolv.conf") if network else _HOST_ETC
    for name in names:
        path = Path("/etc") / name
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    return args


def memory_file(name: str, content: bytes) -> int:
    """An fd on an anonymous file holding `content`, read from its start."""
    fd = os.memfd_create(name.rsplit("/", 1)[-1])
    os.write(fd, content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _owned(fd: int, owned: list[int]) -> int:
    owned.append(fd)
    return fd


def _stage_dir() -> Path:
    STAGE_DIR.mkdir(mode=0o755, exist_ok=True)
    info = STAGE_DIR.lstat()
    if STAGE_DIR.is_symlink() or info.st_uid != 0 or info.st_mode & 0o022:
        raise RuntimeError(f"{STAGE_DIR} must be a directory owned by root, writable only by it")
    return STAGE_DIR


def _tool(name: str) -> str:
    path = shutil.which(name, path=SYSTEM_PATH)
    if path is None:
        raise RuntimeError(available() or f"{name} is missing")
    return path


@functools.cache
def _warn_not_root() -> None:
    logger.warning(
        "the hub does not run as root: spaces run as its own uid (bwrap still isolates their "
        "files, processes and network, but the process limit counts the hub's processes too)"
    )


@functools.cache
def _disable_userns_works() -> bool:
    """bwrap >= 0.8 can forbid user namespaces inside the sandbox; older ones refuse the flag."""
    probe = [_tool("bwrap"), "--unshare-user", "--disable-userns", "--ro-bind", "/", "/", "true"]
    return subprocess.run(probe, capture_output=True, check=False, timeout=30).returncode == 0


def _needed_tools() -> list[str]:
    tools = ["bwrap", "prlimit", "nice"]
    return [*tools, "unshare", "mount", "mkdir", "setpriv"] if is_root() else tools


def available() -> str | None:
    """None when sandboxes work here; else a sentence saying what to install or change."""
    missing = [name for name in _needed_tools() if not shutil.which(name, path=SYSTEM_PATH)]
    if missing:
        return (
            f"spaces need {', '.join(missing)}, missing on this host: install bubblewrap and "
            "util-linux (apt-get install bubblewrap util-linux)"
        )
    try:
        failure = _trial_failure()
    except (OSError, RuntimeError) as error:
        return f"spaces cannot prepare their sandbox here: {error}"
    if failure is None:
        return None
    return (
        f"bubblewrap cannot make a sandbox here ({failure}): allow unprivileged user "
        "namespaces (sysctl user.max_user_namespaces=15000; on Ubuntu also "
        "kernel.apparmor_restrict_unprivileged_userns=0)"
    )


def _trial_failure() -> str | None:
    """Run `true` the way a space runs (as nobody when root); None if that works."""
    limits = SandboxLimits(memory_bytes=1 << 30, processes=4096, open_files=256, disk_bytes=1 << 20)
    trial = command(Sandbox(uid=65534, limits=limits), ["/usr/bin/true"])
    try:
        done = subprocess.run(
            trial.argv, pass_fds=trial.pass_fds, env=trial.env, capture_output=True, timeout=60
        )
    finally:
        trial.close()
    if done.returncode == 0:
        return None
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"exit code {done.returncode}"


def make_cgroup(limit_bytes: int) -> Path | None:
    """A fresh memory cgroup below the hub's own, or None where the host does not allow it."""
    found = _own_memory_cgroup() if is_root() else None
    if found is None:
        return None
    parent, limit_file = found
    path = parent / f"hugbox-{uuid.uuid4().hex[:12]}"
    try:
        path.mkdir()
        (path / limit_file).write_text(str(limit_bytes))
    except OSError as error:
        logger.debug("no memory cgroup for spaces here: %s", error)
        remove_cgroup(path)
        return None
    return path


def remove_cgroup(path: Path | None) -> None:
    if path is None:
        return
    try:
        path.rmdir()
    except FileNotFoundError:
        pass
    except OSError as error:
        logger.warning("memory cgroup %s left behind: %s", path, error)


def _own_memory_cgroup() -> tuple[Path, str] | None:
    """The hub's cgroup in v1's memory hierarchy if mounted, else in the v2 unified one; and
    the name of the file that holds a limit there."""
    unified = None
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, relative = line.split(":", 2)
        if "memory" in controllers.split(","):
            v1 = Path("/sys/fs/cgroup/memory") / relative.lstrip("/")
            return v1, "memory.limit_in_bytes"
        if controllers == "":
            unified = Path("/sys/fs/cgroup") / relative.lstrip("/")
    if unified is not None and (unified / "cgroup.controllers").exists():
        return unified, "memory.max"
    return None


def _count_processes(uid: int) -> int:
    return len(processes_of(uid))


def processes_of(uid: int) -> list[int]:
    """Host pids of live processes whose real uid is `uid` (zombies are already gone: they
    wait only for their parent, sometimes the host's init, to collect their exit code)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _live_uid(entry) == uid:
            found.append(int(entry.name))
    return found


def _live_uid(proc: Path) -> int | None:
    try:
        fields = dict(line.split(":", 1) for line in (proc / "status").read_text().splitlines())
    except (OSError, ValueError):
        return None
    if fields.get("State", "Z").split()[0] in ("Z", "X"):
        return None
    return int(fields["Uid"].split()[0])


def children_of(pid: int) -> list[int]:
    """Host pids whose parent is `pid` (no /proc/<pid>/task/*/children on every kernel)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found
