"""Score write-back: a friend tree per input file (branches added in place: :mod:`hepml.io.inplace`).

The friend tree has the same entries in the same order as the input tree, so
``tree->AddFriend("scores", "scores.root")`` in ROOT lines them up.  Flat branches hold one
value per event; jagged ones (one per object or pixel) are written with a counter branch.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from hepml.errors import ConfigError, CorruptFileError
from hepml.io.atomic import atomic_path

__all__ = ["write_friend", "as_writable", "DEFAULT_EVENT_ID"]

DEFAULT_EVENT_ID = ("run", "luminosityBlock", "event")
_TREE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.+-]*")
Columns = Mapping[str, Any]


def write_friend(
    path: str | os.PathLike[str],
    chunks: Iterable[Columns],
    *,
    tree: str = "scores",
    expected_entries: int | None = None,
    empty_types: Mapping[str, Any] | None = None,
    notes: Mapping[str, str] | None = None,
    progress: str | None = None,
) -> Path:
    """Write chunks of columns as one tree, atomically; check the entry count before renaming.

    ``empty_types`` gives the branch types when there is no chunk at all (an empty input tree);
    ``notes`` are stored beside the tree as ``TObjString`` s (ROOT reads them like any object);
    ``progress`` names a progress bar over the entries written (:mod:`hepml.progress`).
    """
    from hepml.progress import bar

    if not _TREE_NAME.fullmatch(tree):
        raise ConfigError(f"{path}: tree name {tree!r} is not a name ROOT can look up; give letters, digits and _ "
                          "(e.g. scores)")
    path = Path(path)
    written = 0
    with atomic_path(path) as tmp, bar(progress, expected_entries) as shown:
        with uproot.recreate(tmp) as out:
            for columns in chunks:
                columns = {k: as_writable(v) for k, v in columns.items()}
                size = len(next(iter(columns.values()))) if columns else 0
                if tree not in out:
                    _mktree(out, tree, _branch_types(columns))
                if size:
                    out[tree].extend(columns)
                written += size
                shown.update(size)
            if tree not in out:
                _mktree(out, tree, dict(empty_types or {"score": np.float32}))
            for name, text in (notes or {}).items():
                out[name] = text
        with uproot.open(tmp) as check:
            entries = check[tree].num_entries
        if entries != written or (expected_entries is not None and entries != expected_entries):
            raise CorruptFileError(
                f"{path}: wrote {entries} entries to tree {tree!r} but expected "
                f"{expected_entries if expected_entries is not None else written}; nothing was kept"
            )
    return path


def _branch_types(columns: Columns) -> dict[str, Any]:
    return {k: v.type.content if isinstance(v, ak.Array) else v.dtype for k, v in columns.items()}


def _mktree(out: Any, tree: str, types: Mapping[str, Any]) -> None:
    """NanoAOD naming: a record ``Jet`` of jagged fields becomes ``nJet``, ``Jet_pt``, ``Jet_eta``..."""
    out.mktree(tree, dict(types), field_name=lambda outer, inner: f"{outer}_{inner}",
               counter_name=lambda counted: f"n{counted}")


def as_writable(values: Any) -> Any:
    if isinstance(values, ak.Array):
        return values if values.ndim > 1 or values.fields else ak.to_numpy(values)
    return np.asarray(values)
