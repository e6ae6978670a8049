"""Bytecode for a new venv, mostly borrowed. Apps run on read-only venvs, so every module needs
its .pyc at build time (Gradio imports in ~4 s with them, ~9 s without), and compiling Gradio's
~3,800 files takes most of a build. Venvs are compiled to unchecked-hash .pyc files, valid
whatever the source's mtime: a new venv hard-links the .pyc of every source file another venv
holds byte for byte, and compiles only the rest."""

from __future__ import annotations

import filecmp
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

# Run inside the build sandbox by the venv's own python: compiles each .py of the venv's lib
# that has no .pyc yet, on every core.
COMPILE_MISSING = """
import concurrent.futures, os, py_compile, sys
tag = sys.implementation.cache_tag

def missing(root):
    for folder, _, files in os.walk(root):
        if os.path.basename(folder) == "__pycache__":
            continue
        for name in files:
            pyc = os.path.join(folder, "__pycache__", f"{name[:-3]}.{tag}.pyc")
            if name.endswith(".py") and not os.path.exists(pyc):
                yield os.path.join(folder, name)

def compile_one(source):
    try:
        py_compile.compile(source, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        return 1
    except (py_compile.PyCompileError, OSError, ValueError):
        return 0  # not Python (templates, fixtures): imported never, compiled never

with concurrent.futures.ProcessPoolExecutor() as pool:
    done = sum(pool.map(compile_one, list(missing(sys.argv[1])), chunksize=32))
print(f"compiled {done} files")
"""


def borrow(venv: Path, donors: Iterable[Path], *, owner: int | None) -> int:
    """Link into `venv` the .pyc files of donors whose source `venv` has, same bytes; returns
    how many. New `__pycache__` dirs go to `owner` (the builder compiles the rest into them)."""
    borrowed = 0
    for donor in donors:
        for pyc in _pycs(donor / "lib"):
            relative = pyc.relative_to(donor)
            target = venv / relative
            source = relative.parent.parent / f"{pyc.name.split('.', 1)[0]}.py"
            if (
                target.exists()
                or not _unchecked(pyc)
                or not _same_file(venv / source, donor / source)
            ):
                continue
            _make_dir(target.parent, owner)
            os.link(pyc, target)
            borrowed += 1
    return borrowed


def _pycs(lib: Path) -> Iterator[Path]:
    if lib.is_dir():
        yield from lib.rglob("__pycache__/*.pyc")


def _unchecked(pyc: Path) -> bool:
    """An unchecked-hash .pyc (PEP 552 flags 0b01): valid with a source of any mtime."""
    with pyc.open("rb") as file:
        header = file.read(8)
    return len(header) == 8 and int.from_bytes(header[4:8], "little") == 1


def _same_file(mine: Path, theirs: Path) -> bool:
    try:
        if mine.is_symlink() or mine.stat().st_size != theirs.stat().st_size:
            return False
    except FileNotFoundError:
        return False
    return filecmp.cmp(mine, theirs, shallow=False)


def _make_dir(path: Path, owner: int | None) -> None:
    if path.is_dir():
        return
    path.mkdir()
    if owner is not None:
        os.chown(path, owner, owner)
