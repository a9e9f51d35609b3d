"""Reading ROOT ntuples (TTree and RNTuple) through uproot, in chunks, with errors that say how to fix.

A *source* is ``path`` or ``path:tree``; a path may be a glob (``data/*.root``) or a URL
(``root://``, ``https://``), which passes straight to uproot.  An empty tree is not an error:
:func:`iterate` yields nothing for it, so features come out with zero rows and write-back writes a
friend tree with zero entries.
"""

from __future__ import annotations

import fnmatch
import gc
import glob
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np
import uproot

from hepml.cpus import usable_cores
from hepml.errors import (
    ConfigError,
    CorruptFileError,
    HepmlError,
    MissingBranchError,
    MissingFileError,
    MissingTreeError,
    NotROOTFileError,
    UnreachableFileError,
    closest,
)
from hepml.expr import parse
from hepml.io.background import read_ahead

__all__ = ["Source", "Chunk", "open_file", "list_trees", "resolve_sources", "open_tree", "iterate", "select_branches",
           "num_entries", "parse_step_size", "file_uuid", "event_mask"]

_TREE_CLASSES = ("TTree", "ROOT::RNTuple", "ROOT::Experimental::RNTuple")
_REMOTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_WITH_TREE = re.compile(r"^(?P<path>.+\.root):(?P<tree>[^/:]+)$")
_CORRUPTION = (OSError, ValueError, zlib.error, EOFError, IndexError, KeyError, TypeError,
               uproot.deserialization.DeserializationError)


@dataclass(frozen=True)
class Source:
    """One file and (optionally) the name of the tree to read from it."""

    path: str
    tree: str | None = None

    @property
    def remote(self) -> bool:
        return bool(_REMOTE.match(self.path)) and not self.path.startswith("file://")

    def __str__(self) -> str:
        return f"{self.path}:{self.tree}" if self.tree else self.path


@dataclass
class Chunk:
    """A block of entries ``[entry_start, entry_stop)`` of one source; ``entries`` are the entry
    numbers in the file of the rows of ``arrays`` (those that passed the cut), for messages."""

    arrays: ak.Array
    source: Source
    entry_start: int
    entry_stop: int
    entries: np.ndarray


def parse_step_size(value: int | str) -> int | str:
    """A number of entries (``1000``, also as a string) or a memory size with units (``"100 MB"``)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 1:
            raise ConfigError(f"step_size {value}: give a positive number of entries or a size such as '100 MB'")
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return parse_step_size(int(text))
    if not re.fullmatch(r"\d+(\.\d+)?\s*[kMGT]?i?B", text, flags=re.IGNORECASE):
        raise ConfigError(
            f"step_size {value!r}: give a number of entries (1000) or a memory size with units ('100 MB')"
        )
    return text


def resolve_sources(inputs: str | Source | Iterable[str | Source], tree: str | None = None) -> list[Source]:
    """Expand globs and ``file:tree`` notation into a list of :class:`Source`; check local files exist."""
    items = [inputs] if isinstance(inputs, (str, Source, os.PathLike)) else list(inputs)
    sources: list[Source] = []
    for item in items:
        if isinstance(item, Source):
            sources.append(item if item.tree or tree is None else Source(item.path, tree))
            continue
        text = os.fspath(item)
        match = _WITH_TREE.match(text)
        path, name = (match["path"], match["tree"]) if match else (text, tree)
        if _REMOTE.match(path) and not path.startswith("file://"):
            sources.append(Source(path, name))
            continue
        if any(c in path for c in "*?["):
            hits = sorted(glob.glob(path))
            if not hits:
                raise MissingFileError(f"{path}: no file matches this pattern; check the path and the glob")
            sources.extend(Source(h, name) for h in hits)
            continue
        if not os.path.exists(path):
            raise MissingFileError(f"{path}: no such file; check the path (relative paths start at {os.getcwd()})")
        sources.append(Source(path, name))
    if not sources:
        raise MissingFileError("no input files given; pass at least one ROOT file")
    _refuse_repeats(sources)
    return sources


def _refuse_repeats(sources: list[Source]) -> None:
    """A file given twice (by any spelling, link or glob) would count its events twice."""
    seen: dict[tuple[object, ...], Source] = {}
    for source in sources:
        if source.remote:
            key: tuple[object, ...] = (source.path, source.tree)
        else:
            try:
                stat = os.stat(source.path)
                key = (stat.st_dev, stat.st_ino, source.tree)
            except OSError:
                key = (os.path.realpath(source.path), source.tree)
        if key in seen:
            also = "" if seen[key].path == source.path else f" (also as {seen[key].path})"
            raise ConfigError(f"{source}: given twice{also}; its events would count twice, give each input once")
        seen[key] = source


def open_file(source: Source) -> Any:
    if not source.remote and os.path.isdir(source.path):
        raise NotROOTFileError(
            f"{source.path}: is a directory, not a ROOT file; pass the .root files inside it"
            f" (e.g. '{os.path.join(source.path, '*.root')}')"
        )
    try:
        return uproot.open(source.path)
    except _CORRUPTION as err:
        raise _open_error(source, err) from None


def _open_error(source: Source, err: BaseException) -> HepmlError:
    """The one-line error for a file uproot cannot open: unreachable, unreadable, missing, not ROOT
    or damaged, each with its own remedy."""
    if source.remote and _unreachable(err):
        return UnreachableFileError(f"{source.path}: cannot reach the server ({_short(err)}); check the address, the "
                                    "network and your credentials (a grid proxy for root://), or copy the file here")
    if isinstance(err, PermissionError):
        return CorruptFileError(f"{source.path}: permission denied; make the file readable (chmod +r) or copy it")
    if isinstance(err, FileNotFoundError):
        return MissingFileError(f"{source.path}: no such file; check the path")
    if isinstance(err, ValueError) and "not a ROOT file" in str(err):
        return NotROOTFileError(f"{source.path}: not a ROOT file (it does not start with 'root'); pass a .root ntuple")
    if isinstance(err, ValueError):
        return CorruptFileError(f"{source.path}: cannot be opened ({_short(err)}); the file may be corrupt")
    return CorruptFileError(f"{source.path}: cannot be opened ({_short(err)}); the file is truncated or corrupt, "
                            "copy it again")


def _unreachable(err: BaseException) -> bool:
    """A connection that failed (refused, timed out, no route, name unknown), not a damaged file."""
    if isinstance(err, (ConnectionError, TimeoutError)):
        return True
    names = " ".join(c.__name__ for c in type(err).__mro__)
    return "Connect" in names or "Timeout" in names or "gaierror" in names


def _short(err: BaseException) -> str:
    return " ".join(str(err).split())[:160] or type(err).__name__


def list_trees(file: Any) -> dict[str, str]:
    """Trees and RNTuples of an open file, ``{name: classname}`` (cycle numbers dropped)."""
    out: dict[str, str] = {}
    for key, cls in file.classnames().items():
        if cls in _TREE_CLASSES:
            out.setdefault(key.split(";")[0], cls)
    return out


def open_tree(source: Source) -> Any:
    """Open the TTree/RNTuple of ``source``; with no tree named, the file must hold exactly one."""
    file = open_file(source)
    try:
        trees = list_trees(file)
    except _CORRUPTION as err:
        raise CorruptFileError(
            f"{source.path}: cannot list its contents ({_short(err)}); the file is truncated or corrupt"
        ) from None
    name = source.tree
    if name is None:
        if len(trees) != 1:
            found = ", ".join(sorted(trees)) or "none"
            raise MissingTreeError(
                f"{source.path}: {len(trees)} trees found ({found}); name one as '{source.path}:TREE'"
            )
        name = next(iter(trees))
    if name not in trees:
        raise MissingTreeError(
            f"{source.path}: no tree {name!r}; trees in this file: {', '.join(sorted(trees)) or 'none'}"
        )
    try:
        return file[name]
    except _CORRUPTION as err:
        raise CorruptFileError(
            f"{source.path}:{name}: cannot be read ({_short(err)}); the file is truncated or corrupt"
        ) from None


def _branch_names(tree: Any) -> list[str]:
    return list(tree.keys(full_paths=True)) if hasattr(tree, "branches") else list(tree.keys())


def select_branches(
    tree: Any, names: Iterable[str] = (), patterns: Iterable[str] = (), *, where: str = ""
) -> list[str]:
    """Branch names by exact name and by glob patterns (``Jet_*``); unknown names are errors."""
    available = _branch_names(tree)
    chosen: list[str] = []
    for name in names:
        if name not in available:
            raise MissingBranchError(
                f"{where}: no branch {name!r}; closest: {closest(name, available)}"
                " (run 'hepml inspect FILE' to list branches)", branch=name
            )
        chosen.append(name)
    for pattern in patterns:
        hits = [b for b in available if fnmatch.fnmatchcase(b, pattern)]
        if not hits:
            raise MissingBranchError(f"{where}: no branch matches {pattern!r}; closest: {closest(pattern, available)}")
        chosen.extend(hits)
    return list(dict.fromkeys(chosen))


def event_mask(value: Any, n: int, cut: str | None, where: str) -> np.ndarray:
    """The cut as one boolean per event; a per-object cut is an error, not a silent object filter."""
    if isinstance(value, ak.Array) and value.ndim > 1:
        raise ConfigError(
            f"{where}: cut {cut!r} gives one value per object, not per event; reduce it with "
            f"any(...) or all(...), e.g. any({cut})"
        )
    mask = np.asarray(ak.to_numpy(ak.fill_none(value, False)) if isinstance(value, ak.Array) else value, dtype=bool)
    return np.broadcast_to(mask, (n,)) if mask.ndim == 0 else mask


def file_uuid(source: Source) -> str:
    """The UUID ROOT writes into every file when it creates it: it names the file's events even
    after branches are added in place, and costs a few bytes to read (a content hash reads all)."""
    return str(open_file(source).file.uuid)


def num_entries(source: Source) -> int:
    return int(open_tree(source).num_entries)


def iterate(
    inputs: str | Source | Iterable[str | Source],
    branches: Sequence[str] = (),
    *,
    tree: str | None = None,
    filter_name: Sequence[str] = (),
    cut: str | None = None,
    step_size: int | str = "100 MB",
    entry_stop: int | None = None,
    progress: str | None = None,
) -> Iterator[Chunk]:
    """Yield :class:`Chunk` s of the requested branches, file by file, ``step_size`` at a time.

    ``cut`` is a hepml expression (never Python ``eval``); its branches are read too, and the
    chunk keeps only the entries that pass.  Memory is bounded by ``step_size``, not the file size.
    ``progress`` names a progress bar over the entries read (:mod:`hepml.progress`).
    """
    sources = resolve_sources(inputs, tree)
    if progress is None:
        yield from _iterate(sources, branches, filter_name, cut, parse_step_size(step_size), entry_stop)
        return
    from hepml.progress import bar

    total = sum(min(num_entries(s), entry_stop if entry_stop is not None else 2**62) for s in sources)
    with bar(progress, total) as shown:
        for chunk in _iterate(sources, branches, filter_name, cut, parse_step_size(step_size), entry_stop):
            shown.update(chunk.entry_stop - chunk.entry_start)
            yield chunk


MAX_STEP_ENTRIES = 100_000


def _entries_per_step(ttree: Any, read: list[str], step_size: int | str) -> int:
    """Entries per step: as given, or for a memory size the entries that fill it, at most
    :data:`MAX_STEP_ENTRIES`.  A memory size bounds the branches read, but feature building's
    intermediate arrays (jet pairs, four-vectors) are several times larger, so a step of '100 MB'
    of jagged jets (610k events) peaked at 1.5 GB; 100k entries keep it near 1 GB at no cost in speed."""
    if isinstance(step_size, int):
        return step_size
    return max(1, min(int(ttree.num_entries_for(step_size, read)), MAX_STEP_ENTRIES))


def _iterate(sources: list[Source], branches: Sequence[str], filter_name: Sequence[str], cut: str | None,
             step_size: int | str, entry_stop: int | None) -> Iterator[Chunk]:
    cut_expr = parse(cut, "cut") if cut else None
    for source in sources:
        ttree = open_tree(source)
        where = f"{source.path}:{source.tree or ttree.name}"
        names = select_branches(ttree, branches, filter_name, where=where)
        extra = sorted(cut_expr.names - set(names)) if cut_expr else []
        extra = select_branches(ttree, extra, where=f"{where} (cut {cut!r})") if extra else []
        read = names + extra
        if not read:
            raise MissingBranchError(f"{where}: no branches requested; name branches or patterns")
        if ttree.num_entries == 0:
            continue
        start = 0
        try:
            steps = ttree.iterate(read, step_size=_entries_per_step(ttree, read, step_size), library="ak",
                                  entry_stop=entry_stop)
            for arrays in read_ahead(steps) if usable_cores() > 1 else steps:
                stop = start + len(arrays)
                entries = np.arange(start, stop)
                if cut_expr is not None:
                    mask = event_mask(cut_expr.evaluate(arrays), len(arrays), cut, where)
                    if not mask.all():  # filtering copies every branch: skip it when all pass
                        arrays = arrays[mask]
                        entries = entries[mask]
                if extra:
                    arrays = arrays[names]
                yield Chunk(arrays, Source(source.path, source.tree or ttree.name), start, stop, entries)
                start = stop
                # the consumer is done with the chunk: free the reference cycles its processing left (awkward
                # and vector arrays held by closures), young generations only (cheap).  Left to the collector,
                # they wait for a full collection, which a process with TensorFlow loaded (500k objects)
                # runs rarely: memory grew by a third from 200k to 2M events scored
                gc.collect(1)
        except HepmlError:
            raise
        except _CORRUPTION as err:
            raise CorruptFileError(
                f"{where}: reading entries from {start} failed ({_short(err)}); the file is truncated or corrupt"
            ) from None
