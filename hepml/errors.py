"""Errors that say what went wrong, where (file, tree, branch, config key) and how to fix it.

Each error subclasses the builtin it means, as uproot does, so ``except FileNotFoundError``
in user code keeps working.  ``str(error)`` is always a single line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "HepmlError",
    "MissingFileError",
    "NotROOTFileError",
    "CorruptFileError",
    "MissingTreeError",
    "MissingBranchError",
    "ExpressionError",
    "ConfigError",
    "NonFiniteFeatureError",
    "BundleError",
    "EmptyInputError",
    "LeakError",
    "InPlaceError",
    "UnreachableFileError",
    "closest",
]


class HepmlError(Exception):
    """Base of every error hepml raises on purpose; the CLI prints these as one line."""

    def __str__(self) -> str:
        return " ".join(BaseException.__str__(self).split())


class MissingFileError(HepmlError, FileNotFoundError):
    pass


class NotROOTFileError(HepmlError, ValueError):
    pass


class CorruptFileError(HepmlError, OSError):
    pass


class UnreachableFileError(HepmlError, ConnectionError):
    """A remote file whose server could not be reached: the file itself may be fine."""


class MissingTreeError(HepmlError, KeyError):
    pass


class MissingBranchError(HepmlError, KeyError):
    def __init__(self, message: str, branch: str | None = None) -> None:
        super().__init__(message)
        self.branch = branch  # the missing branch, when one is known


class ExpressionError(HepmlError, ValueError):
    pass


class ConfigError(HepmlError, ValueError):
    pass


class NonFiniteFeatureError(HepmlError, ValueError):
    pass


class BundleError(HepmlError, ValueError):
    pass


class EmptyInputError(HepmlError, ValueError):
    pass


class InPlaceError(HepmlError, ValueError):
    """Adding branches to the input itself was refused; the input is unchanged."""


class LeakError(ConfigError):
    """Events a bundle trained on would be scored by a network that trained on them."""


def closest(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """A human list of the names most similar to ``name`` (for 'did you mean' hints)."""
    pool = sorted(set(candidates))
    low = name.lower()
    ranked = sorted(pool, key=lambda c: -difflib.SequenceMatcher(None, low, c.lower()).ratio())
    return ", ".join(ranked[:n]) if ranked else "(none)"
