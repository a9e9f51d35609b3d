"""What a physicist asks of a cosmic tagger, measured chunk by chunk from the truth and score files.

Pixel IoU per class and accuracies over every stored pixel (pixels without charge are background
and predicted so), cosmic rejection (cosmic charge removed), neutrino efficiency (neutrino charge
kept) and event retention (events keeping >= 90 % of their neutrino charge).  The two files are
read in lockstep, so memory does not grow with the number of events.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepml.bundle import write_json
from hepml.errors import ConfigError
from hepml.io.atomic import atomic_path
from hepml.io.read import Source, iterate, num_entries
from hepml.metrics import calibration_sums, confusion_matrix, ece_from_sums, iou, over_seeds
from hepml.simulate.lartpc import COSMIC, NEUTRINO
from hepml.tasks.cosmic.train import CLASSES

__all__ = ["PixelTally", "segmentation_metrics", "evaluate_segmentation", "merge_seeds", "RETENTION"]

RETENTION = 0.9  # an event is retained when it keeps this fraction of its neutrino charge


@dataclass
class PixelTally:
    """Sums over chunks from which every metric follows."""

    confusion: np.ndarray = field(default_factory=lambda: np.zeros((3, 3)))
    charge: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("cosmic", "cosmic_removed", "neutrino", "neutrino_kept"), 0.0))
    events: int = 0
    events_with_neutrino: int = 0
    retained: int = 0
    calibration: dict[str, np.ndarray] = field(default_factory=lambda: {k: np.zeros((3, 15)) for k in CLASSES[1:]})

    def add(self, truth: Any, scores: Any, threshold: float) -> None:
        label, charge, cosmic = truth.Pixel_label, truth.Pixel_charge, scores.Pixel_cosmic
        p_bg = 1.0 - cosmic - scores.Pixel_neutrino
        stacked = ak.concatenate([p_bg[..., None], cosmic[..., None], scores.Pixel_neutrino[..., None]], axis=-1)
        true = ak.to_numpy(ak.flatten(label)).astype(np.int64)
        self.confusion += confusion_matrix(true, ak.to_numpy(ak.flatten(ak.argmax(stacked, axis=-1))), len(CLASSES))
        prob = {name: ak.to_numpy(ak.flatten(scores[f"Pixel_{name}"])) for name in CLASSES[1:]}
        for cls, name in ((COSMIC, "cosmic"), (NEUTRINO, "neutrino")):
            self.calibration[name] += calibration_sums((true == cls).astype(np.float64), prob[name])
        q = ak.to_numpy(ak.flatten(charge)).astype(np.float64)
        removed = prob["cosmic"] >= threshold
        self.charge["cosmic"] += q[true == COSMIC].sum()
        self.charge["cosmic_removed"] += q[(true == COSMIC) & removed].sum()
        self.charge["neutrino"] += q[true == NEUTRINO].sum()
        self.charge["neutrino_kept"] += q[(true == NEUTRINO) & ~removed].sum()
        per_event = ak.to_numpy(ak.sum(charge * (label == NEUTRINO), axis=1))
        kept = ak.to_numpy(ak.sum(charge * ((label == NEUTRINO) & (cosmic < threshold)), axis=1))
        has = per_event > 0
        self.events += len(per_event)
        self.events_with_neutrino += int(has.sum())
        self.retained += int(np.sum(kept[has] >= RETENTION * per_event[has]))

    def metrics(self, shape: Sequence[int], threshold: float) -> dict[str, Any]:
        c, stored = self.confusion, self.confusion.sum()
        total = self.events * int(np.prod(shape))
        non_bg = c[1:, :].sum()
        q = self.charge
        return {
            "iou": dict(zip(CLASSES, (float(v) for v in iou(c)))),
            "accuracy": {"overall": _ratio(np.trace(c) + total - stored, total),
                         "non_background": _ratio(c[1, 1] + c[2, 2], non_bg),
                         "stored_pixels": _ratio(np.trace(c), stored)},
            # is the written-back softmax a probability?  one class against the rest, stored pixels
            "ece": {name: ece_from_sums(sums) for name, sums in self.calibration.items()},
            "cosmic_rejection": _ratio(q["cosmic_removed"], q["cosmic"]),
            "neutrino_efficiency": _ratio(q["neutrino_kept"], q["neutrino"]),
            "event_neutrino_retention": _ratio(self.retained, self.events_with_neutrino),
            "threshold": threshold,
            "events": self.events_with_neutrino,
            "confusion": c.tolist(),
        }


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else float("nan")


def _paired_chunks(truth: str, scores: str, step: int) -> Iterator[tuple[Any, Any]]:
    """Chunks of the same entries of an event file and its score friend, checked to line up."""
    n_truth, n_scores = num_entries(Source(truth, "Events")), num_entries(Source(scores, "scores"))
    if n_truth != n_scores:
        raise ConfigError(f"{scores}: {n_scores} entries but {truth} has {n_truth}; score that file again")
    pairs = zip(iterate(Source(truth, "Events"), ["Pixel_charge", "Pixel_label", "event"], step_size=step),
                iterate(Source(scores, "scores"), ["Pixel_cosmic", "Pixel_neutrino", "event"], step_size=step))
    for t, s in pairs:
        if not np.array_equal(ak.to_numpy(t.arrays.event), ak.to_numpy(s.arrays.event)):
            raise ConfigError(f"{scores}: its events do not line up with {truth} (entries from {t.entry_start});"
                             " score that file again")
        yield t.arrays, s.arrays


def segmentation_metrics(truth: Sequence[str], scores: Sequence[str], *, shape: Sequence[int],
                         threshold: float = 0.5, step: int = 256) -> dict[str, Any]:
    """Every metric of the module docstring over the pairs (truth file, score file)."""
    if len(truth) != len(scores):
        raise ConfigError(f"{len(truth)} truth files but {len(scores)} score files; give one score file per event file")
    tally = PixelTally()
    for truth_file, score_file in zip(truth, scores):
        for t, s in _paired_chunks(str(truth_file), str(score_file), step):
            tally.add(t, s, threshold)
    return tally.metrics(shape, threshold)


def evaluate_segmentation(truth: Sequence[str], scores: Sequence[str], out: str | os.PathLike[str], *,
                          shape: Sequence[int], threshold: float = 0.5) -> dict[str, Any]:
    """:func:`segmentation_metrics` written to ``out`` (JSON, atomically)."""
    metrics = segmentation_metrics(truth, scores, shape=shape, threshold=threshold)
    with atomic_path(out) as tmp:
        write_json(tmp, metrics)
    return metrics


def merge_seeds(parts: dict[str, str], out: str | os.PathLike[str]) -> dict[str, Any]:
    """``results/cosmic/metrics.json``: the reference (first) seed's metrics at the top, as one run
    writes them, with ``seeds`` (every seed's) and ``summary`` (:func:`~hepml.metrics.over_seeds`)."""
    if not parts or not all(seed.isdigit() and path for seed, path in parts.items()):
        raise ConfigError(f"seeds {', '.join(parts) or '(none)'}: give SEED=evaluation.json for each seed, "
                          "the reference seed first")
    runs = {seed: json.loads(Path(path).read_text()) for seed, path in parts.items()}
    merged = {**next(iter(runs.values())), "seeds": runs, "summary": over_seeds(runs)}
    with atomic_path(out) as tmp:
        write_json(tmp, merged)
    return merged
