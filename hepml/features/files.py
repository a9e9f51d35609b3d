"""Feature files: a flat ROOT tree ``features`` (one branch per column, plus weight, label, event ids).

Written chunk by chunk while the ntuples are read, so memory stays flat; physicists can open
them in ROOT like any ntuple.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import uproot

from hepml.errors import ConfigError, EmptyInputError, MissingBranchError, closest
from hepml.features.foldkey import FOLD_KEY
from hepml.features.spec import FeatureSpec, FeatureTable
from hepml.io.outputs import check_outputs
from hepml.io.read import Source, file_uuid, resolve_sources
from hepml.io.write import write_friend

__all__ = ["write_features", "read_features", "feature_sources", "feature_weights", "TREE", "SOURCES"]

TREE = "features"
SOURCES = "hepml_sources"  # TObjString: JSON {file uuid: path} of the ntuples the features came from
FOLD_KEY_NOTE = "hepml_fold_key"  # TObjString: the spec's fold_key the fold_key column was computed with
WEIGHT_NOTE = "hepml_weight"  # TObjString: the weight expression the weight column was computed with


def write_features(spec: FeatureSpec, inputs: str | Source | Iterable[str | Source], out: str | os.PathLike[str], *,
                   label: float | None = None, step_size: int | str = "100 MB") -> int:
    """Build the spec's features from ``inputs`` and write them to ``out``; returns the number of events."""
    check_outputs([inputs] if isinstance(inputs, (str, Source, os.PathLike)) else list(inputs), [out])
    count = 0

    def chunks() -> Iterable[dict[str, np.ndarray]]:
        nonlocal count
        for table in spec.iter_tables(inputs, label=label, step_size=step_size, progress=f"features {Path(out).name}"):
            count += len(table)
            yield table.columns()

    empty = {k: v.dtype for k, v in spec.empty_table().columns().items()}
    sources = {file_uuid(s): s.path for s in resolve_sources(inputs, spec.tree) if not s.remote}
    notes = {SOURCES: json.dumps(sources), FOLD_KEY_NOTE: spec.fold_key.text, WEIGHT_NOTE: spec.weight.text}
    write_friend(out, chunks(), tree=TREE, empty_types=empty, notes=notes)
    return count


def _note(file: str | os.PathLike[str], name: str) -> str | None:
    """A note (TObjString) ``write_features`` left in a feature file; None in files from before it."""
    with uproot.open(file) as f:
        return str(f[name]) if name in f else None


def feature_sources(files: Sequence[str | os.PathLike[str]]) -> dict[str, str]:
    """``{uuid: path}`` of the ntuples the feature files were built from (what a bundle trained on)."""
    sources: dict[str, str] = {}
    for file in files:
        sources.update(json.loads(_note(file, SOURCES) or "{}"))
    return sources


def feature_weights(files: Sequence[str | os.PathLike[str]]) -> dict[str, str]:
    """``{feature file: weight expression}``: how each file's events were weighted (its sample's
    factor included), for the bundle's record and the training log."""
    return {os.fspath(file): _note(file, WEIGHT_NOTE) or "unrecorded (an older hepml)" for file in files}


def read_features(
    files: Sequence[str | os.PathLike[str]], columns: Sequence[str], event_id: Sequence[str] = (), *,
    fold_key: str | None = None,
) -> FeatureTable:
    """Read feature files (all in memory: this is the training set) into one table, with the named
    event ids and the fold-key column; ``fold_key``, the spec's, must be the one the files' fold keys
    were computed with."""
    resolve_sources([os.fspath(f) for f in files])  # each exists, and none is given twice
    parts: list[tuple[dict[str, np.ndarray], list[str]]] = []
    for file in files:
        with uproot.open(file) as f:
            built = str(f[FOLD_KEY_NOTE]) if FOLD_KEY_NOTE in f else None
            if fold_key is not None and built is not None and built != fold_key:
                raise ConfigError(f"{file}: built with fold_key {built!r}, but the spec says {fold_key!r}; rebuild the "
                                  "features with this spec (hepml features), or restore its fold_key")
            tree = f[TREE]
            keys = set(tree.keys())
            for name in [*columns, "weight", "label", *event_id]:
                if name not in keys:
                    raise MissingBranchError(
                        f"{file}:{TREE}: no column {name!r}; closest: {closest(name, keys)}"
                        " (rebuild the features with the matching spec)"
                    )
            ids = [*event_id, *([FOLD_KEY] if FOLD_KEY in keys and FOLD_KEY not in event_id else [])]
            if parts and ids != parts[0][1]:
                raise ConfigError(f"{file}:{TREE}: id columns {ids} differ from {files[0]}'s {parts[0][1]}; build "
                                  "every feature file with the same spec (hepml features)")
            parts.append((tree.arrays([*columns, "weight", "label", *ids], library="np"), ids))
    # one float32 matrix for every file, filled column by column (not stacked, cast and joined:
    # three copies of the training set, 3 of the 8 s of reading 4.4 M events)
    sizes = [len(a["weight"]) for a, _ in parts]
    X = np.empty((sum(sizes), len(columns)), np.float32)
    start = 0
    for (a, _), size in zip(parts, sizes):
        for i, c in enumerate(columns):
            X[start : start + size, i] = a[c]
        start += size
    ids = parts[0][1]
    table = FeatureTable(
        X,
        list(columns),
        np.concatenate([a["weight"] for a, _ in parts]).astype(np.float64, copy=False),
        np.concatenate([a["label"] for a, _ in parts]).astype(np.float32, copy=False),
        {k: np.concatenate([a[k] for a, _ in parts]).astype(np.int64, copy=False) for k in ids},
    )
    if len(table) == 0:
        raise EmptyInputError(f"{', '.join(str(Path(f)) for f in files)}: no events in these feature files")
    return table
