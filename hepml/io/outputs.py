"""Refuse, before anything is read, an output that would overwrite an input or another output.

Paths are compared after resolving links (``os.path.realpath``) and, where both exist, by device
and inode, so ``--out`` spelled differently, a symlink to an input or a hard link are caught too;
an output folder that holds an input is refused as well (replacing the folder would delete it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from hepml.errors import ConfigError
from hepml.io.read import Source, resolve_sources

__all__ = ["check_outputs"]


def _identities(path: str) -> set[tuple[object, ...]]:
    real = os.path.realpath(path)
    keys: set[tuple[object, ...]] = {("path", real)}
    try:
        stat = os.stat(real)
    except OSError:
        return keys
    return keys | {("inode", stat.st_dev, stat.st_ino)}


def check_outputs(inputs: Iterable[str | os.PathLike[str] | Source], outputs: Iterable[str | os.PathLike[str]], *,
                  option: str = "--out") -> None:
    """Raise :class:`ConfigError` if an output is an input (same file through any link or spelling)
    or if two outputs are the same file.  Inputs may be globs, ``file.root:tree`` or sources."""
    taken: dict[tuple[object, ...], str] = {}
    for item in inputs:
        for source in resolve_sources(item):  # type: ignore[arg-type]
            if not source.remote:
                taken.update(dict.fromkeys(_identities(source.path), f"the input file {source.path}"))
    for output in outputs:
        text = os.fspath(output)
        keys = _identities(text)
        clash = next((taken[k] for k in keys if k in taken), None)
        inside = os.path.realpath(text).rstrip(os.sep) + os.sep
        held = next((v for k, v in taken.items() if k[0] == "path" and str(k[1]).startswith(inside)), None)
        if held and held.startswith("the input"):
            raise ConfigError(f"{option} {text}: this folder holds {held}; hepml never replaces a folder that holds "
                              "an input, choose another output path")
        if clash:
            raise ConfigError(f"{option} {text}: this is {clash}; hepml never overwrites an input or writes two "
                              "outputs to one file, choose another output path")
        taken.update(dict.fromkeys(keys, f"also the output for another input ({text})"))
