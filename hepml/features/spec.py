"""Feature specs: named features defined by safe expressions over branches, built chunk by chunk.

A spec (YAML) looks like::

    tree: Events                 # default tree for files given without ':tree'
    fill: 0.0                    # what missing objects (None) become
    nan_policy: raise            # or 'replace' (with nan_value)
    cut: nJet >= 4               # optional preselection
    define:                      # intermediate expressions, reusable by name
      jets: p4(Jet_pt, Jet_eta, Jet_phi, Jet_mass)
    features:
      met: sqrt(MET_px**2 + MET_py**2)
      lead_jet_pt: Jet_pt[:, 0]
      jet_pt: {expr: Jet_pt, first: 4, fill: -1, mask: true}
    groups: {kinematic: [met, lead_jet_pt]}
    weight: genWeight            # expression; 1 when absent
    event_id: [run, luminosityBlock, event]   # copied next to the scores
    fold_key: event              # the k-fold split: a branch, an integer expression or 'entry'
                                 # (see hepml.features.foldkey)

A feature with ``first: N`` becomes N columns ``name_0 .. name_{N-1}`` (and ``name_mask_i``
with ``mask: true``).  ``symmetries: {azimuth: [...], rapidity: [...]}`` names the columns that a
rotation about the beam and the exchange of the beams act on (:mod:`hepml.features.symmetries`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from hepml.errors import ConfigError, MissingBranchError, NonFiniteFeatureError, closest
from hepml.expr import Expression
from hepml.features.foldkey import DEFAULT_FOLD_KEY, FOLD_KEY, FoldKey
from hepml.features.options import FeatureOptions, SpecOptions
from hepml.features.symmetries import Symmetries
from hepml.features.table import FeatureTable
from hepml.features.values import flat as _flat
from hepml.io.read import Chunk, Source, iterate
from hepml.yamlfile import load_yaml

__all__ = ["Feature", "FeatureSpec", "FeatureTable", "RESERVED"]

RESERVED = ("weight", "label", FOLD_KEY)
MAX_DEFINE_DEPTH = 32  # definitions built on definitions: deeper chains are refused, not recursed into


@dataclass(frozen=True)
class Feature:
    name: str
    expr: Expression
    first: int | None = None
    fill: float = 0.0
    mask: bool = False
    label: str | None = None  # for axes and legends (LaTeX allowed); the name when absent
    unit: str | None = None

    @property
    def columns(self) -> list[str]:
        if self.first is None:
            return [self.name]
        cols = [f"{self.name}_{i}" for i in range(self.first)]
        return cols + ([f"{self.name}_mask_{i}" for i in range(self.first)] if self.mask else [])


class FeatureSpec:
    """Parsed and validated feature spec; :meth:`build` turns awkward chunks into a :class:`FeatureTable`."""

    def __init__(self, config: Mapping[str, Any], *, origin: str = "feature spec") -> None:
        self.origin = origin
        self.config = dict(config)
        options = SpecOptions.from_dict(self.config, what=origin)
        self.tree: str | None = options.tree
        self.fill = float(options.fill)
        self.nan_policy = options.nan_policy
        self.nan_value = float(options.nan_value)
        self.cut = options.cut
        self.defines = {
            str(k): Expression(str(v), context=f"{origin}: define.{k}")
            for k, v in options.define.items()
        }
        self.features = [self._feature(str(k), v) for k, v in options.features.items()]
        if not self.features:
            raise ConfigError(f"{origin}: 'features' is empty; define at least one feature")
        self.weight = Expression(str(1 if options.weight is None else options.weight), context=f"{origin}: weight")
        self.label = None if options.label is None else Expression(str(options.label), context=f"{origin}: label")
        self.event_id: list[str] = [str(e) for e in options.event_id]
        self.fold_key = FoldKey.parse(DEFAULT_FOLD_KEY if options.fold_key is None else options.fold_key, origin)
        self._check_columns()
        self.groups: dict[str, list[str]] = {k: list(v) for k, v in options.groups.items()}
        for group, cols in self.groups.items():
            for col in cols:
                if col not in self.columns:
                    raise ConfigError(
                        f"{origin}: groups.{group} names {col!r}, which is no feature column;"
                        f" closest: {closest(col, self.columns)}"
                    )
        self.symmetries = Symmetries.from_dict(options.symmetries, what=f"{origin}: symmetries")
        self.symmetries.check(self.columns, origin)
        self._check_cycles()

    def _feature(self, name: str, value: Any) -> Feature:
        key = f"{self.origin}: features.{name}"
        if name in RESERVED:
            raise ConfigError(f"{key}: {name!r} is reserved; rename the feature")
        if not isinstance(value, Mapping):
            return Feature(name, Expression(str(value), context=key), fill=self.fill)
        options = FeatureOptions.from_dict(dict(value), what=key)
        fill = self.fill if options.fill is None else float(options.fill)
        return Feature(name, Expression(options.expr, context=key), options.first, fill, options.mask,
                       options.label, options.unit)

    def _check_columns(self) -> None:
        """Column names must be unique and must not hide the weight, label or an event identifier."""
        taken = {n: "a reserved column" for n in RESERVED}
        for name in self.event_id:
            if name in taken:
                raise ConfigError(f"{self.origin}: event_id: {name!r} is {taken[name]}; rename or drop it")
            taken[name] = "an event identifier (event_id)"
        for feature in self.features:
            for column in feature.columns:
                if column in taken:
                    raise ConfigError(
                        f"{self.origin}: features.{feature.name}: column {column!r} would shadow "
                        f"{taken[column]}; rename the feature"
                    )
                taken[column] = f"a column of features.{feature.name}"

    def with_sample_weight(self, factor: str, *, where: str) -> FeatureSpec:
        """This spec with each event weighted by the spec's ``weight`` times a sample's ``factor``.

        The one rule for weights: the spec gives the per-event weight (the generator weight, say),
        and a sample adds only its own factor (cross section × luminosity / generated events); a
        factor reading a branch the spec's weight already reads would count it twice and is refused.
        """
        extra = Expression(str(factor), context=f"{where}: weight")
        shared = sorted(self.weight.names & extra.names)
        if shared:
            raise ConfigError(f"{where}: weight {extra.text!r} reads {shared[0]!r}, which the spec's weight "
                              f"{self.weight.text!r} already multiplies in; give the sample only its own factor "
                              "(e.g. cross section x luminosity / generated events), or 1")
        own, more = self.weight.text.strip(), extra.text.strip()
        weight = own if more == "1" else more if own == "1" else f"({own}) * ({more})"
        return FeatureSpec({**self.config, "weight": weight}, origin=self.origin)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> FeatureSpec:
        config = load_yaml(path, "feature spec") or {}
        if not isinstance(config, Mapping):
            raise ConfigError(f"{path}: a feature spec must be a mapping with a 'features' key")
        return cls(config, origin=str(path))

    def _check_cycles(self) -> None:
        """No definition may refer to itself, and chains of definitions stay shallow (each level of a
        chain is a level of recursion when the features are built)."""
        depth: dict[str, int] = {}  # 0 while being visited, then the chain depth below the name

        def visit(name: str, chain: tuple[str, ...]) -> int:
            if name in depth:
                if depth[name] == 0:
                    raise ConfigError(f"{self.origin}: define.{name} refers to itself ({' -> '.join(chain + (name,))})")
                return depth[name]
            if len(chain) >= MAX_DEFINE_DEPTH:
                raise ConfigError(
                    f"{self.origin}: define.{chain[0]}: definitions nested more than {MAX_DEFINE_DEPTH}"
                    f" deep ({chain[0]} -> ... -> {name}); flatten the chain"
                )
            depth[name] = 0
            below = max(
                (visit(dep, chain + (name,)) for dep in self.defines[name].names & set(self.defines)), default=0
            )
            if below + 1 > MAX_DEFINE_DEPTH:
                raise ConfigError(
                    f"{self.origin}: define.{name}: definitions nested more than {MAX_DEFINE_DEPTH}"
                    " deep; flatten the chain"
                )
            depth[name] = below + 1
            return depth[name]

        for name in self.defines:
            visit(name, ())

    @property
    def columns(self) -> list[str]:
        return [c for f in self.features for c in f.columns]

    def axis_label(self, column: str) -> str:
        """The feature's ``label`` (numbered for ``first: N`` columns) and ``[unit]``, for figures."""
        feature = next((f for f in self.features if column in f.columns), None)
        if feature is None:
            return column
        i, text = feature.columns.index(column), feature.label or feature.name
        if feature.first is not None:
            text = f"{text} {i % feature.first + 1}" + (" present" if i >= feature.first else "")
            if i >= feature.first:
                return text
        return f"{text} [{feature.unit}]" if feature.unit else text

    def unit_of(self, column: str) -> str:
        """The column's unit ('' for masks and for columns the spec does not build)."""
        feature = next((f for f in self.features if column in f.columns), None)
        if feature is None or (feature.first is not None and feature.columns.index(column) >= feature.first):
            return ""
        return feature.unit or ""

    @property
    def id_columns(self) -> list[str]:
        """The integer columns of a feature file besides the features: event identifiers, fold key."""
        return [*self.event_id, FOLD_KEY]

    def branches(self) -> list[str]:
        """Every branch building a feature file reads (definitions resolved), in a stable order."""
        exprs = [f.expr for f in self.features] + [self.weight] + ([self.label] if self.label else [])
        branches = self._resolve(exprs + ([self.fold_key.expr] if self.fold_key.expr else []))
        return branches + [e for e in self.event_id if e not in branches]

    def feature_branches(self) -> list[str]:
        """The branches the features alone read: all that scoring needs besides the fold key."""
        return self._resolve([f.expr for f in self.features])

    def fold_key_branches(self) -> list[str]:
        return self._resolve([self.fold_key.expr] if self.fold_key.expr else [])

    def _resolve(self, exprs: list[Expression]) -> list[str]:
        seen: set[str] = set()
        todo = [n for e in exprs for n in sorted(e.names)]
        branches: list[str] = []
        while todo:
            name = todo.pop(0)
            if name in seen:
                continue
            seen.add(name)
            if name in self.defines:
                todo.extend(sorted(self.defines[name].names))
            else:
                branches.append(name)
        return branches

    def build(
        self,
        arrays: Any,
        *,
        label: float | None = None,
        where: str = "input",
        entries: np.ndarray | None = None,
        file: str | None = None,
        features_only: bool = False,
    ) -> FeatureTable:
        """Features of one chunk (an awkward array or a mapping of branch arrays).

        ``entries`` are the rows' entry numbers in ``file``, so a message about a bad value points at
        the entry a user can look up (and ``fold_key: entry`` can use them); ``features_only`` skips
        the weight, label, event identifiers and fold key (scoring data that has none of them).
        """
        fields = set(arrays.fields) if isinstance(arrays, ak.Array) else set(arrays)
        lookup = self._lookup(arrays, where)
        n = len(arrays) if isinstance(arrays, ak.Array) else len(arrays[next(iter(fields))]) if fields else 0
        rows = np.arange(n) if entries is None else np.asarray(entries)
        # column-major float32: each feature is written contiguously, with no float64 intermediate
        X = np.empty((n, len(self.columns)), dtype=np.float32, order="F")
        i = 0
        for feature in self.features:
            for column in self._columns(feature, feature.expr.evaluate(lookup), n, where, rows):
                X[:, i] = column
                i += 1
        if features_only:
            return FeatureTable(X, self.columns, np.ones(n), np.full(n, np.nan, np.float32))
        return FeatureTable(X, self.columns, *self._event_columns(lookup, n, label, where, entries, file))

    def _lookup(self, arrays: Any, where: str) -> Callable[[str], Any]:
        """Branches of ``arrays`` and the spec's definitions by name, each evaluated once."""
        cache: dict[str, Any] = {}
        fields = set(arrays.fields) if isinstance(arrays, ak.Array) else set(arrays)

        def lookup(name: str) -> Any:
            if name in cache:
                return cache[name]
            if name in self.defines:  # packed once: later uses broadcast plain arrays, not index views
                value = self.defines[name].evaluate(lookup)
                cache[name] = ak.to_packed(value) if isinstance(value, ak.Array) else value
            elif name in fields:
                cache[name] = arrays[name]
            else:
                raise MissingBranchError(
                    f"{where}: needs branch {name!r}, which is missing; closest: {closest(name, fields)}"
                )
            return cache[name]

        return lookup

    def fold_keys(self, arrays: Any, *, where: str = "input", entries: np.ndarray | None = None,
                  file: str | None = None) -> np.ndarray:
        """The fold key of each event of ``arrays`` (as :meth:`build` computes it for feature files)."""
        n = len(arrays) if isinstance(arrays, ak.Array) else len(next(iter(arrays.values())))
        return self.fold_key.evaluate(self._lookup(arrays, where), n, entries=entries, file=file, where=where)

    def _event_columns(self, lookup: Any, n: int, label: float | None, where: str, entries: np.ndarray | None,
                       file: str | None) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Weight, label and integer ids (event identifiers and the fold key) of the chunk's events."""
        rows = np.arange(n) if entries is None else np.asarray(entries)
        weight = _flat(self.weight.evaluate(lookup), n, "weight", where).astype(np.float64)
        bad = ~np.isfinite(weight)
        if bad.any():  # never replaced: a weight is physics, not a feature to patch
            raise NonFiniteFeatureError(
                f"{where}: weight {self.weight.text!r} is {weight[bad][0]} at entry "
                f"{rows[np.argmax(bad)]}; fix the weight expression or the input"
            )
        if label is not None:
            y = np.full(n, float(label), dtype=np.float32)
        elif self.label is not None:
            y = _flat(self.label.evaluate(lookup), n, "label", where).astype(np.float32)
        else:
            y = np.full(n, np.nan, dtype=np.float32)
        ids = {name: np.asarray(ak.to_numpy(lookup(name))).astype(np.int64) for name in self.event_id}
        ids[FOLD_KEY] = self.fold_key.evaluate(lookup, n, entries=entries, file=file, where=where)
        return weight, y, ids

    def _columns(self, feature: Feature, value: Any, n: int, where: str, rows: np.ndarray) -> list[np.ndarray]:
        if feature.first is not None:
            padded = ak.pad_none(value, feature.first, axis=-1, clip=True)
            mask = ~ak.to_numpy(ak.is_none(padded, axis=-1)).astype(bool)
            values = ak.to_numpy(ak.fill_none(padded, feature.fill, axis=-1))
            out = [self._finite(values[:, i], f"{feature.name}_{i}", where, rows) for i in range(feature.first)]
            return out + ([mask[:, i].astype(np.float64) for i in range(feature.first)] if feature.mask else [])
        array = value if not isinstance(value, ak.Array) else ak.fill_none(value, feature.fill)
        if isinstance(array, ak.Array) and array.ndim > 1:
            raise ConfigError(
                f"{self.origin}: features.{feature.name} is jagged (one value per object); index it"
                f" ({feature.expr.text}[:, 0]) or add 'first: N'"
            )
        return [self._finite(_flat(array, n, feature.name, where), feature.name, where, rows)]

    def _finite(self, values: np.ndarray, name: str, where: str, rows: np.ndarray) -> np.ndarray:
        bad = ~np.isfinite(values)
        if bad.any():
            if self.nan_policy == "raise":
                raise NonFiniteFeatureError(
                    f"{where}: feature {name!r} is {values[bad][0]} at entry {rows[np.argmax(bad)]};"
                    " fix the expression or set nan_policy: replace in the feature spec"
                )
            values = np.where(bad, self.nan_value, values)
        return values

    def iter_tables(
        self,
        inputs: str | Source | Iterable[str | Source],
        *,
        label: float | None = None,
        step_size: int | str = "100 MB",
        entry_stop: int | None = None,
        progress: str | None = None,
    ) -> Iterator[FeatureTable]:
        """Stream feature tables, one per chunk of each input file (memory bounded by ``step_size``);
        ``progress`` names a progress bar (:mod:`hepml.progress`)."""
        chunks = iterate(inputs, self.branches(), tree=self.tree, cut=self.cut, step_size=step_size,
                         entry_stop=entry_stop, progress=progress)
        try:
            for chunk in chunks:
                yield self.build_chunk(chunk, label=label)
        except MissingBranchError as err:
            if err.branch not in set(self.fold_key_branches()) - set(self.feature_branches()):
                raise
            default = "" if "fold_key" in self.config else ", the default"
            raise MissingBranchError(f"{err}; the spec's fold_key ({self.fold_key.text}{default}) reads it: set "
                                     "fold_key to another branch, to hash(...) of values every event has, or to entry",
                                     branch=err.branch) from None

    def build_chunk(self, chunk: Chunk, *, label: float | None = None) -> FeatureTable:
        return self.build(chunk.arrays, label=label, where=str(chunk.source), entries=chunk.entries,
                          file=chunk.source.path)

    def empty_table(self) -> FeatureTable:
        cols = self.columns
        return FeatureTable(
            np.zeros((0, len(cols)), np.float32),
            cols,
            np.zeros(0),
            np.zeros(0, np.float32),
            {k: np.zeros(0, np.int64) for k in self.id_columns},
        )
