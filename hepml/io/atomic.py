"""Atomic outputs: write to a temporary name in the same folder, check, then rename.

A killed job leaves at most a ``.NAME.tmp-HOST-PID`` file or folder, never a file that looks
finished, and the next write of the same output removes such leftovers: those of a process of
this host that no longer runs, and those of other hosts once they are a day old (a batch job on
another node may still be writing; after a day it is not).

Write only what you own: a folder output carries a marker (:data:`MARKER`, the kind of output it
is), and an existing folder is replaced only when it is empty or its marker names the same kind.
Anything else (a user's folder, ``results/``, the working directory or a parent of it, a file
where a folder goes) is refused before any work starts, and nothing is deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hepml.errors import ConfigError

__all__ = ["atomic_path", "scratch_dir", "temporary_sibling", "remove_stale_temporaries", "check_replaceable",
           "output_kind", "STALE_AFTER_S", "MARKER"]

MARKER = ".hepml-output"  # in every folder hepml writes: {"kind": ...}; what may replace it

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


def output_kind(folder: str | os.PathLike[str]) -> str | None:
    """The kind of hepml output ``folder`` is, from its marker; None for anything else."""
    try:
        kind = json.loads((Path(folder) / MARKER).read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None


def check_replaceable(target: str | os.PathLike[str], kind: str | None = None, *, option: str = "--out") -> Path:
    """Refuse, in one line, a ``target`` that writing a ``kind`` folder (None: a file) would destroy;
    returns the absolute target.  Called before any work, so a refusal costs nothing."""
    given = os.fspath(target)
    path = Path(os.path.abspath(given))
    if path.parent == path:
        raise ConfigError(f"{option} {given}: is the root folder; give a new folder or file name")
    here = os.path.realpath(os.getcwd())
    real = os.path.realpath(path)
    if here == real or here.startswith(real.rstrip(os.sep) + os.sep):
        raise ConfigError(f"{option} {given}: is the working directory or a parent of it ({real}); hepml never "
                          "replaces a folder you are in, give a new name such as results/bundle")
    if not (path.exists() or path.is_symlink()):
        return path
    if kind is None:
        if path.is_dir():
            raise ConfigError(f"{option} {given}: is a folder, and this output is a file; give a file name "
                              f"(e.g. {os.path.join(given, 'out.root')})")
        return path
    if path.is_symlink() or not path.is_dir():
        raise ConfigError(f"{option} {given}: exists and is not a folder hepml wrote; hepml only replaces its own "
                          "outputs, give a new folder name or remove it yourself")
    found = output_kind(path)
    if found == kind or not any(path.iterdir()):
        return path
    entries = sorted(p.name for p in path.iterdir())
    what = f"a hepml {found} output, not a {kind}" if found else (
        f"a folder hepml did not write ({len(entries)} entries, e.g. {entries[0]})")
    raise ConfigError(f"{option} {given}: is {what}; hepml only replaces its own outputs of the same kind, give a "
                      "new folder name or remove it yourself")


@contextmanager
def atomic_path(target: str | os.PathLike[str], *, kind: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` only if the block succeeds.

    ``kind`` None: a file, which replaces an existing file.  ``kind`` given: a folder (the block
    creates it), marked as that kind of output; it replaces an existing folder only if that one is
    empty or marked with the same kind (:func:`check_replaceable`, checked before the block runs).
    """
    target = check_replaceable(target, kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = temporary_sibling(target)
    _remove(tmp)
    try:
        yield tmp
        if kind is not None:
            if not tmp.is_dir():
                raise ConfigError(f"{target}: a {kind} output must be a folder")  # a bug of the caller
            (tmp / MARKER).write_text(json.dumps({"kind": kind}) + "\n")
            check_replaceable(target, kind)  # the same answer now, after the work: nothing appeared meanwhile
            if target.is_dir() and not target.is_symlink():
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
