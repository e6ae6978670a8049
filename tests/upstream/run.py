"""Run huggingface_hub's own test suite against a live hugbox and print the pass rate per class.

    .venv/bin/python tests/upstream/run.py [TEST_FILE_OR_NODE ...] [-- PYTEST_ARGS]

The sdist of the installed huggingface_hub (it ships `tests/` without its conftest) is downloaded
once into $HUGBOX_UPSTREAM_CACHE (default ~/.cache/hugbox-upstream), outside this repository;
none of its code is part of hugbox. run.py adds the missing conftest (upstream_conftest.py),
points the staging constants (ENDPOINT_STAGING, USER, TOKEN, OTHER_USER, ...) at a fresh hub
with those users, runs pytest on the files that talk to a hub and prints passed/failed/skipped
per test class. Tests marked `production` (huggingface.co itself) are skipped. `make upstream`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

import huggingface_hub

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import create_token, free_port, run_cli, running_hub

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("HUGBOX_UPSTREAM_CACHE", Path.home() / ".cache" / "hugbox-upstream"))
DEFAULT_FILES = [
    "test_hf_api.py", "test_file_download.py", "test_commit_api.py", "test_upload_pipeline.py",
    "test_snapshot_download.py", "test_hf_file_system.py", "test_copy_files.py", "test_lfs.py",
    "test_repocard.py", "test_xet_upload.py", "test_xet_download.py", "test_cli.py",
]  # fmt: skip
# Upstream's user names, and ours where hugbox's name rules refuse theirs.
USERS = {"USER": ("__DUMMY_HUB_USER__", "dummy-hub-user"), "OTHER_USER": ("DVUser", "dv-user"),
         "ENTERPRISE_USER": ("EnterpriseAdmin", "enterprise-admin")}  # fmt: skip
ENTERPRISE_ORG = "EnterpriseOrgPrivate"
CONSTANTS_MARK = "# --- hugbox: staging constants point at the hub under test ---"
CONSTANTS = f"""
{CONSTANTS_MARK}
import os as _os

ENDPOINT_STAGING = _os.environ["HUGBOX_UPSTREAM_ENDPOINT"]
USER, TOKEN = _os.environ["HUGBOX_UPSTREAM_USER"], _os.environ["HUGBOX_UPSTREAM_TOKEN"]
OTHER_USER = _os.environ["HUGBOX_UPSTREAM_OTHER_USER"]
OTHER_TOKEN = _os.environ["HUGBOX_UPSTREAM_OTHER_TOKEN"]
ENTERPRISE_USER = _os.environ["HUGBOX_UPSTREAM_ENTERPRISE_USER"]
ENTERPRISE_TOKEN = _os.environ["HUGBOX_UPSTREAM_ENTERPRISE_TOKEN"]
"""
PYTEST_INI = "[pytest]\naddopts = -p no:cacheprovider -q\ntimeout = 300\n"


def sdist_tests(version: str) -> Path:
    """The unpacked sdist of huggingface_hub VERSION, its tests ready to run against a hub."""
    root = CACHE / f"huggingface_hub-{version}"
    if not root.is_dir():
        _download(version, root)
    tests = root / "tests"
    (tests / "__init__.py").touch()
    shutil.copyfile(HERE / "upstream_conftest.py", tests / "conftest.py")
    (root / "pytest.ini").write_text(PYTEST_INI)
    constants = tests / "testing_constants.py"
    if CONSTANTS_MARK not in constants.read_text():
        constants.write_text(constants.read_text() + CONSTANTS)
    return root


def _download(version: str, root: Path) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q"]
    subprocess.run([*pip, f"huggingface_hub=={version}", "-d", str(CACHE)], check=True)
    with tarfile.open(CACHE / f"huggingface_hub-{version}.tar.gz") as archive:
        archive.extractall(CACHE, filter="data")


def seed(data_dir: Path) -> dict[str, str]:
    """Users and tokens for the constants, as HUGBOX_UPSTREAM_* variables."""
    env: dict[str, str] = {}
    for key, (upstream, fallback) in USERS.items():
        name = _create_user(data_dir, upstream, fallback)
        env[f"HUGBOX_UPSTREAM_{key}"] = name
        token_key = key.replace("USER", "TOKEN")
        env[f"HUGBOX_UPSTREAM_{token_key}"] = create_token(data_dir, name, "write")
    admin = env["HUGBOX_UPSTREAM_ENTERPRISE_USER"]
    run_cli(data_dir, "org", "create", ENTERPRISE_ORG, "--owner", admin)
    return env


def _create_user(data_dir: Path, name: str, fallback: str) -> str:
    if run_cli(data_dir, "user", "create", name, "--password", "pw-" + name).returncode == 0:
        return name
    print(f"hugbox refuses the user name {name!r}; the tests run as {fallback!r}", file=sys.stderr)
    created = run_cli(data_dir, "user", "create", fallback, "--password", "pw-upstream")
    assert created.returncode == 0, created.stderr
    return fallback


def run_pytest(root: Path, env: dict[str, str], targets: list[str], extra: list[str]) -> Path:
    """Run the upstream tests; returns their JUnit XML report."""
    report = root / "report.xml"
    paths = [f"tests/{target}" for target in targets]
    command = [sys.executable, "-m", "pytest", *paths, f"--junitxml={report}", *extra]
    subprocess.run(command, cwd=root, env=env, check=False)
    return report


def rates(report: Path) -> dict[str, Counter[str]]:
    """passed/failed/skipped per test class (or module, for tests outside a class)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for case in ET.parse(report).iter("testcase"):  # noqa: S314  # pytest's own report
        outcome = next((child.tag for child in case if child.tag != "properties"), "passed")
        outcome = {"failure": "failed", "error": "failed", "system-out": "passed"}.get(
            outcome, outcome
        )
        counts[case.get("classname", "").removeprefix("tests.")][outcome] += 1
    return counts


def print_rates(counts: dict[str, Counter[str]]) -> None:
    total: Counter[str] = Counter()
    print(f"\n{'class':60} {'pass':>5} {'fail':>5} {'skip':>5}  rate")
    for name, count in sorted(counts.items()):
        total.update(count)
        print(_row(name, count))
    print(_row("TOTAL", total))


def _row(name: str, count: Counter[str]) -> str:
    ran = count["passed"] + count["failed"]
    rate = f"{100 * count['passed'] / ran:5.1f}%" if ran else "    -"
    return f"{name:60} {count['passed']:5} {count['failed']:5} {count['skipped']:5} {rate}"


def main(argv: list[str]) -> int:
    split = argv.index("--") if "--" in argv else len(argv)
    targets, extra = argv[:split], argv[split + 1 :]
    root = sdist_tests(huggingface_hub.__version__)
    with tempfile.TemporaryDirectory(prefix="hugbox-upstream-") as tmp:
        data_dir, port = Path(tmp) / "data", free_port()
        data_dir.mkdir()
        env = _environment(seed(data_dir), f"http://127.0.0.1:{port}", Path(tmp))
        with running_hub(data_dir, port=port, log_path=root / "server.log"):
            report = run_pytest(root, env, targets or DEFAULT_FILES, extra)
        print_rates(rates(report))
    return 0


def _environment(seeded: dict[str, str], endpoint: str, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    hf = {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp / "hf-home"),
          "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
          "DISABLE_SYMLINKS_IN_WINDOWS_TESTS": "1"}  # fmt: skip
    return {**env, **seeded, **hf, "HUGBOX_UPSTREAM_ENDPOINT": endpoint}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
