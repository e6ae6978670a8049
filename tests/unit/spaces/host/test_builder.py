"""Space builds with uv from PyPI, in the build sandbox: wheels only, and nothing of the host
that is not bound into it."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import stat
import tempfile
import time
from pathlib import Path

import pytest

from hugbox.spaces.host import builder, runner, sandbox
from hugbox.spaces.host.builder import BuildFailed, BuildSpec

# Real builds, sandboxed processes and servers: about half a minute together, so `make test`
# runs them and `make test-fast` leaves them out.
pytestmark = pytest.mark.slow

BUILDER_UID = random.randrange(400_000, 500_000, 100)
NO_DEBIAN = "this host installs no Debian packages for spaces; ask the operator to install them"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    problem = sandbox.available()
    assert problem is None, problem
    return tmp_path_factory.mktemp("uv-cache")


def _spec(tmp_path: Path, cache_dir: Path, files: dict[str, str], **fields: object) -> BuildSpec:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    for name, text in files.items():
        (app_dir / name).write_text(text)
    values: dict[str, object] = {
        "space_id": "tests/build", "uid": BUILDER_UID, "app_dir": app_dir,
        "venv": tmp_path / "venv", "python": "3.11", "sdk_requirements": [],
        "cache_dir": cache_dir, "log_path": tmp_path / "build.log", "timeout": 120.0,
    }  # fmt: skip
    return BuildSpec(**{**values, **fields})  # type: ignore[arg-type]


def _log(spec: BuildSpec) -> list[str]:
    return [json.loads(line)["data"] for line in spec.log_path.read_text().splitlines()]


def _fails(spec: BuildSpec) -> str:
    with pytest.raises(BuildFailed) as raised:
        asyncio.run(builder.build(spec))
    return str(raised.value)


def test_a_build_installs_wheels_that_import_in_the_sandbox(
    tmp_path: Path, cache_dir: Path
) -> None:
    files = {"requirements.txt": "six==1.17.0\n", "packages.txt": "coreutils\n"}
    spec = _spec(tmp_path, cache_dir, files)
    asyncio.run(builder.build(spec))
    log = _log(spec)
    assert "--> packages.txt: coreutils already on this host" in log
    assert " + six==1.17.0" in log
    assert log[-1].startswith("--> build done in")
    # Read-only for the apps, readable by every space's uid, and compiled ahead.
    site = spec.venv / "lib" / "python3.11" / "site-packages"
    pyc = site / "__pycache__" / "six.cpython-311.pyc"
    assert pyc.exists()
    for path in (spec.venv, site, site / "six.py", pyc):
        info = path.stat()
        assert info.st_mode & stat.S_IROTH and not info.st_mode & stat.S_IWOTH
        assert info.st_uid == 0 or not sandbox.is_root()
    assert _run_in_sandbox(tmp_path, spec.venv) == (0, "six 1.17.0")


def test_a_later_build_borrows_the_bytecode_of_identical_files(
    tmp_path: Path, cache_dir: Path
) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = _spec(tmp_path / "one", cache_dir, {"requirements.txt": "six==1.17.0\n"})
    asyncio.run(builder.build(first))
    later = _spec(tmp_path / "two", cache_dir, {"requirements.txt": "six==1.17.0\n# other\n"},
                  donors=(first.venv,))  # fmt: skip
    asyncio.run(builder.build(later))
    shared = [line for line in _log(later) if "files shared with earlier builds" in line]
    assert shared and not shared[0].startswith("--> bytecode: 0 ")
    pyc = Path("lib/python3.11/site-packages/__pycache__/six.cpython-311.pyc")
    assert (later.venv / pyc).stat().st_ino == (first.venv / pyc).stat().st_ino
    # Unchecked-hash bytecode (PEP 552 flags 0b01): valid whatever the source's mtime.
    assert int.from_bytes((later.venv / pyc).read_bytes()[4:8], "little") == 1
    assert _run_in_sandbox(tmp_path / "two", later.venv) == (0, "six 1.17.0")


def _run_in_sandbox(tmp_path: Path, venv: Path) -> tuple[int, str]:
    (tmp_path / "empty").mkdir()
    launch = runner.Launch(
        space_id="tests/build", uid=BUILDER_UID + 1, app_dir=tmp_path / "empty", venv=venv,
        command=["/opt/venv/bin/python", "-c", "import six; print('six', six.__version__)"],
        app_port=7860, env={}, run_dir=tmp_path / "run", hub_address=("127.0.0.1", 9),
        hub_port_inside=5005, log_path=tmp_path / "run.log", secrets=(),
        limits=builder.BUILD_LIMITS,
    )  # fmt: skip

    async def go() -> tuple[int, list[str]]:
        app = await runner.start(launch)
        code = await app.wait()
        await app.stop()
        return code, app.tail

    code, tail = asyncio.run(go())
    return code, "\n".join(tail)


def test_requirements_cannot_read_host_files(tmp_path: Path, cache_dir: Path) -> None:
    # World-readable on the host: only the sandbox keeps uv from reading it.
    exposed = Path(tempfile.mkdtemp(prefix="hugbox-host-"))
    try:
        exposed.chmod(0o755)
        (exposed / "more.txt").write_text("six\n")
        (exposed / "more.txt").chmod(0o644)
        requirements = f"-r {exposed / 'more.txt'}\n-r /etc/shadow\n"
        spec = _spec(tmp_path, cache_dir, {"requirements.txt": requirements})
        reason = _fails(spec)
    finally:
        shutil.rmtree(exposed)
    assert str(exposed / "more.txt") in reason
    assert "No such file or directory" in reason
    assert any("failed to read from file" in line for line in _log(spec))


def test_requirements_cannot_include_etc_shadow(tmp_path: Path, cache_dir: Path) -> None:
    spec = _spec(tmp_path, cache_dir, {"requirements.txt": "-r /etc/shadow\n"})
    reason = _fails(spec)
    assert "/etc/shadow" in reason and "No such file or directory" in reason
    assert "root:" not in spec.log_path.read_text()


def test_an_unknown_package_fails_with_uv_s_reason(tmp_path: Path, cache_dir: Path) -> None:
    spec = _spec(tmp_path, cache_dir, {"requirements.txt": "hugbox-no-such-package-xyz\n"})
    reason = _fails(spec)
    assert "hugbox-no-such-package-xyz was not found in the package registry" in reason
    assert _log(spec)[-1].startswith("--> build failed after")


def test_a_package_without_wheels_is_refused(tmp_path: Path, cache_dir: Path) -> None:
    spec = _spec(tmp_path, cache_dir, {"requirements.txt": "docopt==0.6.2\n"})  # sdist only
    reason = _fails(spec)
    assert reason.startswith("docopt has no wheel for this platform")
    assert any("no package code runs at build time" in line for line in _log(spec))


def test_packages_txt_must_already_be_installed(tmp_path: Path, cache_dir: Path) -> None:
    packages = "# system libraries\ncoreutils\nhugbox-absent-package\n"
    spec = _spec(tmp_path, cache_dir, {"packages.txt": packages})
    reason = _fails(spec)
    assert reason == f"packages.txt asks for hugbox-absent-package: {NO_DEBIAN}"
    assert not spec.venv.exists()  # refused before anything was built


def test_a_build_past_its_timeout_is_stopped(tmp_path: Path, cache_dir: Path) -> None:
    spec = _spec(tmp_path, cache_dir, {"requirements.txt": "-r hang.txt\n"}, timeout=2.0)
    os.mkfifo(spec.app_dir / "hang.txt")  # no writer ever comes: uv waits on it for good
    started = time.monotonic()
    assert _fails(spec) == "the build took longer than its 2 s limit"
    assert time.monotonic() - started < 5
    assert _log(spec)[-1].startswith("--> build failed after 2.")
    if sandbox.is_root():
        assert sandbox.processes_of(BUILDER_UID) == []


def test_host_python_picks_the_nearest_usr_bin_python() -> None:
    assert builder.host_python("3.11") == ("/usr/bin/python3.11", None)
    assert builder.host_python("") == ("/usr/bin/python3.11", None)
    path, warning = builder.host_python("3.10")
    assert path == "/usr/bin/python3.11"
    assert warning is not None and "3.10" in warning
    path, warning = builder.host_python("3.11.99")
    assert path == "/usr/bin/python3.11"
    assert warning is not None and "3.11.99" in warning
