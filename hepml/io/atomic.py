"""Atomic outputs: write to a temporary name in the same folder, check, then rename.

A killed job leaves at most a ``.NAME.tmp-HOST-PID`` file or folder, never a file that looks
finished, and the next write of the same output removes such leftovers: those of a process of
this host that no longer runs, and those of other hosts once they are a day old (a batch job on
another node may still be writing; after a day it is not).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "scratch_dir", "temporary_sibling", "remove_stale_temporaries", "STALE_AFTER_S"]

STALE_AFTER_S = 24 * 3600.0
_HOST = socket.gethostname().replace("-", "_").replace("/", "_") or "host"


def temporary_sibling(target: str | os.PathLike[str], kind: str = "tmp") -> Path:
    """``.NAME.KIND-HOST-PID`` beside ``target``: hidden, and traceable to the process that made it."""
    target = Path(target)
    return target.with_name(f".{target.name}.{kind}-{_HOST}-{os.getpid()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(target: str | os.PathLike[str], kind: str = "tmp") -> list[Path]:
    """Remove the temporaries an interrupted write of ``target`` left behind; returns what was removed."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    prefix = f".{target.name}.{kind}-"
    removed = []
    for path in target.parent.iterdir():
        if not path.name.startswith(prefix):
            continue
        host, _, pid = path.name[len(prefix):].rpartition("-")
        if not pid.isdigit():
            continue
        if host == _HOST:
            stale = int(pid) != os.getpid() and not _alive(int(pid))
        else:
            try:
                stale = time.time() - path.lstat().st_mtime > STALE_AFTER_S
            except FileNotFoundError:
                continue
        if stale:
            _remove(path)
            removed.append(path)
    return removed


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` only if the block succeeds.

    Works for files and folders (a folder target replaces an existing folder of that name).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = temporary_sibling(target)
    _remove(tmp)
    try:
        yield tmp
        if tmp.is_dir() and target.is_dir() and not target.is_symlink():
            _remove(target)
        os.replace(tmp, target)
    finally:
        _remove(tmp)


@contextmanager
def scratch_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """A work folder beside ``target`` (``.NAME.scratch-HOST-PID``), removed afterwards, and by the
    next run if this one is killed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target, "scratch")
    folder = temporary_sibling(target, "scratch")
    _remove(folder)
    folder.mkdir()
    try:
        yield folder
    finally:
        _remove(folder)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()
