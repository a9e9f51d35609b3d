"""Coercing spec values and expression results: numbers, text, one value per event."""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from hepml.errors import ConfigError

__all__ = ["flat", "number", "text"]


def text(value: Any, key: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{key}: {value!r} is not text (quote it in the YAML)")
    return value


def number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key}: {value!r} is not a number")
    return float(value)


def flat(value: Any, n: int, name: str, where: str) -> np.ndarray:
    if isinstance(value, (int, float, np.integer, np.floating, np.bool_)) or (
        isinstance(value, np.ndarray) and value.ndim == 0
    ):
        return np.full(n, float(value))
    try:
        out = np.asarray(ak.to_numpy(value) if isinstance(value, ak.Array) else value)
        if out.dtype.kind not in "fiub":
            raise TypeError(f"values of type {out.dtype}")
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{where}: {name} is not one number per event ({' '.join(str(err).split())[:100]})") from None
    if out.shape != (n,):
        raise ConfigError(f"{where}: {name} has shape {out.shape}, expected one value per event ({n})")
    return out
