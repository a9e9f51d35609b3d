"""The fold key: one integer per event that decides which fold network trains on it and scores it.

Set by ``fold_key:`` in the feature spec; three kinds, for three kinds of ntuple:

* a branch name, ``event`` (the default, for NanoAOD and anything with event numbers);
* an expression over branches giving an integer per event, e.g. ``hash(run, event)`` or, with no
  event number at all, ``hash(lep_pt[:, 0], lep_eta[:, 0], met)`` (``hash`` mixes the exact bits
  of floats, so distinct events get distinct keys);
* ``entry``: the entry number in the file combined with a hash of the file's name.

A key must give the same number for the same event whenever the event is read: at training and
at every later scoring.  That is what guarantees "scored by the network that never saw it".
Event numbers and exact float values survive copying, skimming and adding branches; ``entry``
does not survive a rename of the file or a reprocessing that drops or reorders events, after
which events land in arbitrary folds and a training event may be scored by a network that trained
on it.  Prefer a key made of what the event *is*.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from hepml.errors import ConfigError
from hepml.expr import Expression

__all__ = ["FoldKey", "FOLD_KEY", "DEFAULT_FOLD_KEY", "ENTRY", "spec_fold_key"]

FOLD_KEY = "fold_key"  # the column that carries the key in feature files and tables
DEFAULT_FOLD_KEY = "event"
ENTRY = "entry"


@dataclass(frozen=True)
class FoldKey:
    text: str
    expr: Expression | None  # None for ``entry``

    @classmethod
    def parse(cls, value: Any, origin: str) -> FoldKey:
        if value is None or isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
            raise ConfigError(f"{origin}: fold_key: {value!r} is not a branch, an expression or 'entry'")
        text = str(value).strip()
        return cls(text, None if text == ENTRY else Expression(text, context=f"{origin}: fold_key"))

    @property
    def names(self) -> frozenset[str]:
        """The branches and definitions the key reads (none for ``entry``)."""
        return self.expr.names if self.expr is not None else frozenset()

    def evaluate(self, lookup: Callable[[str], Any] | Mapping[str, Any], n: int, *, entries: np.ndarray | None,
                 file: str | None, where: str) -> np.ndarray:
        """The key of each of ``n`` events, as int64."""
        if self.expr is None:
            if entries is None or file is None:
                raise ConfigError(f"{where}: fold_key 'entry' needs the events' file and entry numbers")
            return np.asarray(entries, np.int64) | (file_name_hash(file) << np.int64(32))
        value = self.expr.evaluate(lookup)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            raise ConfigError(f"{where}: fold_key {self.text!r} is one constant for every event; name a branch")
        if isinstance(value, ak.Array):
            value = np.zeros(0, np.int8) if value.ndim > 1 else ak.to_numpy(value)  # a list per event: refused below
        out = value if np.ma.isMaskedArray(value) else np.asarray(value)
        if np.ma.isMaskedArray(out) and np.ma.getmaskarray(out).any():
            raise ConfigError(f"{where}: fold_key {self.text!r} is missing (None) for some events; "
                              "build it from values every event has")
        if out.shape != (n,) or out.dtype.kind not in "iub":
            kind = "floats (wrap them in hash(...))" if out.dtype.kind == "f" else "not one integer per event"
            raise ConfigError(f"{where}: fold_key {self.text!r} gives {kind}; a fold key is one integer per event "
                              "(a branch such as event, hash(run, event), or 'entry')")
        return out.astype(np.int64)


def spec_fold_key(spec_config: Mapping[str, Any] | None) -> str:
    """The fold key a spec configuration sets (what a bundle records and scoring recomputes)."""
    return str((spec_config or {}).get("fold_key", DEFAULT_FOLD_KEY)).strip()


def file_name_hash(file: str | os.PathLike[str]) -> np.int64:
    """31 bits of the file's base name: stable across machines and directories, not across renames."""
    digest = hashlib.blake2b(os.path.basename(os.fspath(file)).encode(), digest_size=4).digest()
    return np.int64(int.from_bytes(digest, "little") & 0x7FFFFFFF)
