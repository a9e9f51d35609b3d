"""Leak detection by content: a compact fingerprint of the events a bundle trained on.

The fold key decides which network scores an event, so anything that changes the key (a fold-key
input rewritten by one ulp, a renamed file under ``fold_key: entry``, a training file copied with
uproot and scored as independent data) silently scores training events with networks that saw
them.  The fingerprint recognises the events themselves, whatever their key, file or API path.

Each event's float32 feature vector is rounded to :attr:`Fingerprint.bits` mantissa bits (so a
change in the last bits of an input, which moves a feature by an ulp or two, mostly keeps its
value) and hashed to 64 bits; the bundle keeps the sorted hashes with the fold each event had in
training (:data:`AMBIGUOUS` when two training events share a hash), 9 bytes per event.  Scoring
looks every event up (a binary search): a training event found with another fold than it had in
training, or any training event in data declared independent, is a leak.

False positives: two different events with the same rounded vector.  The coarsest rounding whose
training events are (almost) all distinct is chosen, and the rate measured there bounds the rate
on unseen events; :func:`allowed_matches` turns it into the number of matches a scored sample may
show by chance.  Features too discrete to tell events apart switch the check off, with the reason
recorded in the bundle.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from hepml.errors import ConfigError, LeakError
from hepml.split import event_hash

__all__ = ["Fingerprint", "event_hashes", "build_fingerprint", "allowed_matches", "judge_leaks", "LeakWarning",
           "LEAK_MODES", "AMBIGUOUS", "BITS"]

LEAK_MODES = ("refuse", "report")

AMBIGUOUS = 255  # the fold of a hash two training events share: any fold may score it
BITS = (14, 18, 23)  # mantissa bits kept, coarsest first (23: every bit of a float32)
MAX_DUPLICATES = 1e-4  # the training events sharing their rounded vector with another, at most
_MANTISSA = 23


def event_hashes(X: np.ndarray, bits: int) -> np.ndarray:
    """One 64-bit hash per row of ``X`` (float32 features) rounded to ``bits`` mantissa bits: each
    rounded value mixed into the row's state by xor and an odd multiply, then splitmix64."""
    u = np.asfortranarray(X, dtype=np.float32).view(np.uint32)  # column by column, each contiguous
    drop = _MANTISSA - bits
    rounded = u & np.uint32(0x7FFFFFFF)  # in place from here on, in the same (column) order
    if drop > 0:  # round half up on the magnitude's bit pattern (monotone in the value)
        rounded += np.uint32(1 << (drop - 1))
        rounded &= np.uint32(~((1 << drop) - 1) & 0xFFFFFFFF)
    sign = u & np.uint32(0x80000000)
    sign *= rounded != 0  # -0 and +0 alike
    rounded |= sign
    h = np.full(len(X), np.uint64(0xCBF29CE484222325))
    with np.errstate(over="ignore"):
        for column in range(rounded.shape[1] if rounded.ndim == 2 else 0):
            h ^= rounded[:, column]
            h *= np.uint64(0x100000001B3)
    return event_hash(h)


@dataclass
class Fingerprint:
    """Sorted hashes of the training events and the fold each had; ``duplicates`` is the fraction
    of training events whose rounded vector another one shares (the false-match rate's measure)."""

    hashes: np.ndarray
    folds: np.ndarray
    bits: int
    duplicates: float

    @property
    def events(self) -> int:
        return int(len(self.hashes))

    def lookup(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found, fold in training) of each row of ``X``; the fold is meaningful where found."""
        if self.events == 0 or len(X) == 0:
            return np.zeros(len(X), bool), np.zeros(len(X), np.uint8)
        h = event_hashes(X, self.bits)
        order = np.argsort(h)  # sorted queries walk the table in order: several times faster
        at = np.empty(len(h), np.int64)
        at[order] = np.minimum(np.searchsorted(self.hashes, h[order]), self.events - 1)
        found = self.hashes[at] == h
        return found, self.folds[at]

    def leaks(self, X: np.ndarray, folds: np.ndarray | None) -> int:
        """Training events among the rows of ``X`` that would be scored by a network that trained on
        them: with ``folds`` (the fold each is scored by), those found with another fold; without
        (independent data, scored by every network), every one found."""
        found, trained = self.lookup(X)
        if folds is None:
            return int(found.sum())
        return int((found & (trained != AMBIGUOUS) & (trained != np.asarray(folds))).sum())

    def false_rate(self) -> float:
        """An upper bound on the rate of chance matches for an unseen event: the measured duplicate
        fraction, or 3 / events when none was seen (the 95 % bound of zero in that many)."""
        return max(self.duplicates, 3.0 / max(self.events, 1))

    def save(self, path: str | os.PathLike[str]) -> None:
        np.savez(path, hashes=self.hashes, folds=self.folds, bits=np.int64(self.bits),
                 duplicates=np.float64(self.duplicates))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Fingerprint:
        with np.load(path, allow_pickle=False) as data:
            return cls(data["hashes"], data["folds"], int(data["bits"]), float(data["duplicates"]))

    def describe(self, file: str) -> dict[str, Any]:
        return {"file": file, "events": self.events, "mantissa_bits": self.bits, "duplicates": self.duplicates,
                "bytes_per_event": 9}


def build_fingerprint(X: np.ndarray, folds: np.ndarray) -> tuple[Fingerprint | None, str]:
    """The fingerprint of the training events ``X`` with their ``folds``, at the coarsest rounding
    of :data:`BITS` that tells them apart; (None, why) when even all bits do not."""
    duplicates = 1.0
    for bits in BITS:
        h = event_hashes(X, bits)
        order = np.argsort(h, kind="stable")
        h, f = h[order], np.asarray(folds)[order].astype(np.uint8)
        same = np.zeros(len(h), bool)
        if len(h) > 1:
            equal = h[1:] == h[:-1]
            same[1:] |= equal
            same[:-1] |= equal
        duplicates = float(same.mean()) if len(h) else 0.0
        if duplicates <= MAX_DUPLICATES or bits == BITS[-1] and duplicates <= 10 * MAX_DUPLICATES:
            return Fingerprint(*_unique_with_folds(h, f), bits, duplicates), ""
    return None, (f"{duplicates:.1%} of the training events share their feature vector with another even at full "
                  "precision: the features do not tell events apart, so the leak check is off for this bundle")


def _unique_with_folds(h: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One entry per distinct hash; its fold, or :data:`AMBIGUOUS` where events of several folds share it."""
    unique, first, counts = np.unique(h, return_index=True, return_counts=True)
    folds = f[first].copy()
    shared = counts > 1
    if shared.any():
        low = np.minimum.reduceat(f, first)
        high = np.maximum.reduceat(f, first)
        folds[shared & (low != high)] = AMBIGUOUS
    return unique, folds


def allowed_matches(fingerprint: Fingerprint, scored: int) -> int:
    """How many leak matches ``scored`` unseen events may show by chance before scoring refuses:
    five times the bound on chance matches, and never fewer than 2."""
    return max(2, math.ceil(5 * fingerprint.false_rate() * scored))


class LeakWarning(UserWarning):
    """Training events were scored by networks that saw them, and ``leaks="report"`` let it pass."""


def judge_leaks(fingerprint: Fingerprint, found: int, scored: int, *, where: str, independent: bool,
                leaks: str = "refuse") -> None:
    """Refuse (``leaks="refuse"``) or warn about (``"report"``) ``found`` leak matches among ``scored``
    events when they are more than chance explains (:func:`allowed_matches`)."""
    if leaks not in LEAK_MODES:
        raise ConfigError(f"leaks={leaks!r}: choose {' or '.join(LEAK_MODES)}")
    if found <= allowed_matches(fingerprint, scored):
        return
    why = ("these events are declared independent, so every fold network scores them" if independent else
           "their fold key no longer gives the fold they had in training (a fold-key input, the file name under "
           "fold_key: entry, or the key itself changed)")
    message = (f"{where}: {found} of {scored} events are events this bundle trained on (recognised by their "
               f"features) and would be scored by a network that trained on them: {why}")
    if leaks == "report":
        warnings.warn(f"{message}; scored anyway (leaks=report)", LeakWarning, stacklevel=4)
        return
    raise LeakError(f"{message}; score the training files as they were written, without --independent, or pass "
                    "--leaks report to score them anyway and say so")
