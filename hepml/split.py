"""Deterministic k-fold splitting by event number.

Each event's fold and role come from a seeded hash of its event number, so the split does not
depend on file order or chunking and every tool that knows the event number agrees on it.
Model ``k`` trains on the *train* role of every fold but ``k``; it early-stops on the *validation*
role of those folds; it scores fold ``k``.  The *calibration* role of every fold is never trained
on: its out-of-fold scores fit the calibrator.  So every written-back score comes from a model
that never saw that event.
"""

from __future__ import annotations

import numpy as np

from hepml.errors import ConfigError

__all__ = ["event_hash", "fold_of", "role_of", "TRAIN", "VALIDATION", "CALIBRATION", "is_validation_window",
           "is_study_test_event", "STUDY_TEST_FOLDS", "STUDY_SEED_OFFSET"]

TRAIN, VALIDATION, CALIBRATION = 0, 1, 2
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def event_hash(event: np.ndarray, seed: int = 0) -> np.ndarray:
    """splitmix64 of (event number + seed): well mixed, fast, identical on every platform."""
    with np.errstate(over="ignore"):
        z = np.asarray(event).astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        z = (z + np.uint64(0x9E3779B97F4A7C15)) & _M64
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _M64
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _M64
        return z ^ (z >> np.uint64(31))


def fold_of(event: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """The fold (0 .. k-1) of each event number."""
    if k < 2:
        raise ConfigError(f"k-fold needs k >= 2, got {k}")
    return (event_hash(event, seed) % np.uint64(k)).astype(np.int64)


def role_of(event: np.ndarray, k: int, seed: int = 0, *, validation: float = 0.1,
            calibration: float = 0.1) -> np.ndarray:
    """TRAIN, VALIDATION or CALIBRATION for each event, independent of its fold."""
    u = (event_hash(event, seed) // np.uint64(k) % np.uint64(1_000_000)).astype(np.float64) / 1e6
    return np.where(u < calibration, CALIBRATION, np.where(u < calibration + validation, VALIDATION, TRAIN))


def is_validation_window(event: np.ndarray) -> np.ndarray:
    """The segmentation task's early-stopping set: readout windows with ``event % 10 == 0``.

    A plain modulus rather than a hash: window numbers are consecutive and independent, so every
    tenth one is an unbiased 10 % sample, and anyone can reproduce it by eye in ROOT.
    """
    return np.asarray(event) % 10 == 0


STUDY_TEST_FOLDS = 4
STUDY_SEED_OFFSET = 101


def is_study_test_event(event: np.ndarray, seed: int = 0) -> np.ndarray:
    """The held-out quarter of a side-by-side study (DANN: source-only, DANN, control, oracle).

    Hashed with an offset seed, so it is independent of the k-fold split of the same events: a
    study's test set is not one of the Higgs task's folds.
    """
    return fold_of(event, STUDY_TEST_FOLDS, seed + STUDY_SEED_OFFSET) == 0
