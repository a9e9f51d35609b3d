"""Per-event weights for training: each class (or domain) brought to the same total.

One rule for every network and baseline, so that a signal sample with cross-section weights 2000x
those of the background still trains on balanced classes.  Negative weights keep their sign.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hepml.errors import ConfigError

__all__ = ["equalise"]


def equalise(weights: np.ndarray, groups: np.ndarray, *, total: float, labels: Sequence[float] = (0, 1),
             what: str = "class") -> np.ndarray:
    """``weights`` rescaled so that each of ``labels`` (values of ``groups``) sums to ``total / len(labels)``."""
    w = np.array(weights, dtype=np.float64)
    out = np.empty_like(w)
    for label in labels:
        rows = np.asarray(groups) == label
        sum_ = w[rows].sum()
        if not sum_ > 0:
            raise ConfigError(f"{what} {label:g} has total weight {sum_:g} <= 0; cannot balance {what}es")
        out[rows] = w[rows] * (total / len(labels) / sum_)
    return out
