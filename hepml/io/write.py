"""Score write-back: a friend tree per input file (default) or, opt-in, branches added in place.

The friend tree has the same entries in the same order as the input tree, so
``tree->AddFriend("scores", "scores.root")`` in ROOT lines them up.  Flat branches hold one
value per event; jagged ones (one per object or pixel) are written with a counter branch.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from hepml.errors import CorruptFileError, HepmlError
from hepml.io.atomic import atomic_path
from hepml.io.read import Source, open_tree

__all__ = ["write_friend", "add_branches_in_place", "DEFAULT_EVENT_ID"]

DEFAULT_EVENT_ID = ("run", "luminosityBlock", "event")
Columns = Mapping[str, Any]


def write_friend(
    path: str | os.PathLike[str],
    chunks: Iterable[Columns],
    *,
    tree: str = "scores",
    expected_entries: int | None = None,
    empty_types: Mapping[str, Any] | None = None,
) -> Path:
    """Write chunks of columns as one tree, atomically; check the entry count before renaming.

    ``empty_types`` gives the branch types when there is no chunk at all (an empty input tree).
    """
    path = Path(path)
    written = 0
    with atomic_path(path) as tmp:
        with uproot.recreate(tmp) as out:
            for columns in chunks:
                columns = {k: _as_writable(v) for k, v in columns.items()}
                size = len(next(iter(columns.values()))) if columns else 0
                if tree not in out:
                    _mktree(out, tree, _branch_types(columns))
                if size:
                    out[tree].extend(columns)
                written += size
            if tree not in out:
                _mktree(out, tree, dict(empty_types or {"score": np.float32}))
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


def _as_writable(values: Any) -> Any:
    if isinstance(values, ak.Array):
        return values if values.ndim > 1 or values.fields else ak.to_numpy(values)
    return np.asarray(values)


def add_branches_in_place(source: Source, columns: Columns) -> None:
    """Opt-in: add branches to the user's own tree (uproot >= 5.7 ``add_branches``).

    The file is copied to a temporary name, the branches go into the copy, the copy is checked,
    then it replaces the original: a failure at any point leaves the input untouched.
    """
    tree = open_tree(source)
    name = source.tree or tree.name
    where = f"{source.path}:{name}"
    if not hasattr(tree, "branches"):
        raise HepmlError(f"{where}: in-place writing supports TTrees only (this is an RNTuple); use the friend-tree output")
    n = int(tree.num_entries)
    clash = sorted(set(columns) & set(tree.keys()))
    if clash:
        raise HepmlError(f"{where}: branch {clash[0]!r} exists already; choose another --prefix or use the friend-tree output")
    for key, values in columns.items():
        if len(values) != n:
            raise HepmlError(f"{where}: branch {key!r} has {len(values)} entries, the tree has {n}")
    with atomic_path(source.path) as tmp:
        shutil.copyfile(source.path, tmp)
        try:
            with uproot.update(tmp) as f:
                f[name].add_branches({k: _as_writable(v) for k, v in columns.items()})
        except NotImplementedError as err:
            raise HepmlError(
                f"{where}: uproot cannot add branches to this tree ({' '.join(str(err).split())[:120]});"
                " the input is unchanged, use the friend-tree output"
            ) from None
        with uproot.open(tmp) as check:
            got = check[name]
            if got.num_entries != n or not set(columns) <= set(got.keys()):
                raise CorruptFileError(f"{where}: in-place write could not be verified; the input is unchanged")
