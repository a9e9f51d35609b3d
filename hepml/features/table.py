"""A table of events in memory: the float32 feature matrix with weights, labels and integer ids.

What a feature spec builds from a chunk and what training reads back from feature files; the ids
(event identifiers and the fold key) travel with the events through every selection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from hepml.errors import ConfigError, EmptyInputError, closest

__all__ = ["FeatureTable"]


@dataclass
class FeatureTable:
    """Features of a set of events: float32 matrix, weights, labels, event identifiers."""

    X: np.ndarray
    names: list[str]
    weight: np.ndarray
    label: np.ndarray
    event_id: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @classmethod
    def concat(cls, tables: Iterable[FeatureTable]) -> FeatureTable:
        tables = list(tables)
        if not tables:
            raise EmptyInputError("no feature tables to concatenate")
        first = tables[0]
        return cls(
            np.concatenate([t.X for t in tables]),
            list(first.names),
            np.concatenate([t.weight for t in tables]),
            np.concatenate([t.label for t in tables]),
            {k: np.concatenate([t.event_id[k] for t in tables]) for k in first.event_id},
        )

    def select(self, names: Iterable[str]) -> FeatureTable:
        """The same events with only the named feature columns, in the given order."""
        names = list(names)
        missing = [n for n in names if n not in self.names]
        if missing:
            raise ConfigError(
                f"feature {missing[0]!r} is not in this table; closest: {closest(missing[0], self.names)}"
            )
        idx = [self.names.index(n) for n in names]
        return FeatureTable(self.X[:, idx], names, self.weight, self.label, self.event_id)

    def subset(self, mask: np.ndarray) -> FeatureTable:
        return FeatureTable(
            self.X[mask],
            self.names,
            self.weight[mask],
            self.label[mask],
            {k: v[mask] for k, v in self.event_id.items()},
        )

    def columns(self) -> dict[str, np.ndarray]:
        """Flat columns for writing: features, ``weight``, ``label`` and the event identifiers."""
        out = {n: self.X[:, i] for i, n in enumerate(self.names)}
        out.update(weight=self.weight, label=self.label)
        out.update(self.event_id)
        return out
