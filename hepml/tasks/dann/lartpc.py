"""DANN on the cosmic-removal task: source-only, DANN, control (lambda = 0) and oracle UResNets on LArTPC
pseudo-data (a detector with another gain, noise, diffusion or dead wires).

The DANN network reads the target training files without their label branch; the target labels
are read only to train the oracle and to evaluate.  Each network's test-set pixels are scored
with the ordinary :func:`~hepml.tasks.cosmic.score.score_pixels` and measured with
:func:`~hepml.tasks.cosmic.evaluate.evaluate_segmentation`, so the numbers mean exactly what the cosmic
task's numbers mean.  The headline number per model and domain is the mean IoU of the two
physics classes (cosmic, neutrino); the per-class IoUs are kept next to it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepml.bundle import write_json
from hepml.io.atomic import atomic_path
from hepml.io.images import iter_images
from hepml.simulate.lartpc import COSMIC, NEUTRINO
from hepml.tasks.cosmic.evaluate import evaluate_segmentation
from hepml.tasks.cosmic.score import load_segmenter, score_pixels
from hepml.tasks.cosmic.train import train_segmentation
from hepml.tasks.dann.study import domain_auc, gap_closed

__all__ = ["run_dann_lartpc", "bottleneck_features"]

MODELS = ("source_only", "dann", "no_adversary", "oracle")
SEGMENTATION_KEYS = ("cosmic_rejection", "neutrino_efficiency", "event_neutrino_retention")
BUNDLES = {"source_only": "source_only", "dann": "bundle", "no_adversary": "no_adversary", "oracle": "oracle"}


def bottleneck_features(bundle: str | os.PathLike[str], files: Sequence[str]) -> np.ndarray:
    """Pooled bottleneck features (:func:`~hepml.models.uresnet.pooled_bottleneck`) of every event in ``files``."""
    from hepml.models.uresnet import pooled_bottleneck

    model, info = load_segmenter(bundle)
    return np.concatenate([pooled_bottleneck(model, charge)
                           for charge, _, _ in iter_images(files, info["shape"], labels=False)])


def _mean_iou(metrics: dict[str, Any]) -> float:
    return float(np.mean([metrics["iou"]["cosmic"], metrics["iou"]["neutrino"]]))


def _physics_pixels(truth: str, limit: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
    """Which stored pixels are cosmic or neutrino (the first ``limit`` of them: the plots need no
    more) and their truth for the plots (1 cosmic, 0 neutrino)."""
    import uproot

    label = ak.to_numpy(ak.flatten(uproot.open(truth)["Events"]["Pixel_label"].array()))
    chosen = np.flatnonzero((label == COSMIC) | (label == NEUTRINO))[:limit]
    return chosen, (label[chosen] == COSMIC).astype(np.float32)


def _cosmic_probability(scores: str, chosen: np.ndarray) -> np.ndarray:
    import uproot

    return ak.to_numpy(ak.flatten(uproot.open(scores)["scores"]["Pixel_cosmic"].array()))[chosen].astype(np.float32)


def _train_all(folder: Path, source_train: Sequence[str], target_train: Sequence[str],
               dann_config: dict[str, Any] | None, common: dict[str, Any]) -> None:
    """The four UResNets: source-only, DANN, the control (lambda = 0) and the oracle; with
    ``dann.warm_start``, DANN and the control begin where the source-only network ended."""
    from hepml.models.dann import DannConfig

    source_only = folder / BUNDLES["source_only"]
    train_segmentation(source_train, source_only, **common)
    initial = source_only if DannConfig.from_dict(dann_config).warm_start else None
    train_segmentation(source_train, folder / BUNDLES["dann"], target=target_train, dann_config=dann_config,
                       initial=initial, **common)
    # the control: the same mixed source + target batches with lambda = 0; batch norm alone
    # already adapts to the target through the batch statistics, so this separates the two
    train_segmentation(source_train, folder / BUNDLES["no_adversary"], target=target_train,
                       dann_config={**(dann_config or {}), "lambda_max": 0.0}, initial=initial, **common)
    train_segmentation(target_train, folder / BUNDLES["oracle"], **common)


def _evaluate(folder: Path, model: str, domain: str, files: list[str], shape: tuple[int, ...],
              threshold: float) -> tuple[dict[str, Any], str]:
    """Score one model on one domain's test files with the ordinary cosmic-task tools."""
    per_file = [str(score_pixels(folder / BUNDLES[model], events_file,
                                 folder / "scores" / f"{model}_{domain}_{i}.root", threshold=threshold))
                for i, events_file in enumerate(files)]
    m = evaluate_segmentation(files, per_file, folder / "evaluation" / f"{model}_{domain}.json", shape=shape,
                              threshold=threshold)
    return m, per_file[0]


def run_dann_lartpc(source_train: Sequence[str], source_test: Sequence[str], target_train: Sequence[str],
                    target_test: Sequence[str], out: str | os.PathLike[str], *, shape: Sequence[int],
                    model_config: dict[str, Any] | None = None, dann_config: dict[str, Any] | None = None,
                    seed: int = 0, threshold: float = 0.5) -> dict[str, Any]:
    """Train the four UResNets, score and evaluate each on both test samples; write the run folder:
    metrics.json, history.json, scores.npz, the DANN bundle in bundle/, the others beside it."""
    shape = tuple(int(s) for s in shape)
    tests = {"source": list(source_test), "target": list(target_test)}
    metrics: dict[str, Any] = {"source": {}, "target": {}, "domain_auc": {}, "iou": {}, "segmentation": {}}
    scores: dict[str, Any] = {}
    pixels = {domain: _physics_pixels(files[0]) for domain, files in tests.items()}
    for domain, (_, truth) in pixels.items():
        scores[f"label_{domain}"], scores[f"weight_{domain}"] = truth, np.ones_like(truth)
    history: dict[str, Any] = {}
    with atomic_path(out, kind="dann run") as folder:
        folder.mkdir()
        _train_all(folder, source_train, target_train, dann_config,
                   {"shape": shape, "model_config": model_config, "seed": seed})
        for model in MODELS:
            bundle = folder / BUNDLES[model]
            history[model] = json.loads((bundle / "history.json").read_text())
            metrics["iou"][model], metrics["segmentation"][model] = {}, {}
            for domain, files in tests.items():
                m, first_scores = _evaluate(folder, model, domain, files, shape, threshold)
                metrics[domain][model] = _mean_iou(m)
                metrics["iou"][model][domain] = m["iou"]
                metrics["segmentation"][model][domain] = {k: m[k] for k in SEGMENTATION_KEYS}
                scores[f"{model}_{domain}"] = _cosmic_probability(first_scores, pixels[domain][0])
            if model != "oracle":
                metrics["domain_auc"][model] = domain_auc(bottleneck_features(bundle, tests["source"]),
                                                          bottleneck_features(bundle, tests["target"]), seed)
        target = metrics["target"]
        metrics["gap"] = target["oracle"] - target["source_only"]
        metrics["gap_closed"] = gap_closed(target["source_only"], target["dann"], target["oracle"])
        metrics["source_iou_change"] = metrics["source"]["dann"] - metrics["source"]["source_only"]
        metrics["figure_of_merit"] = "mean IoU of the cosmic and neutrino classes"
        write_json(folder / "metrics.json", metrics)
        write_json(folder / "history.json", history)
        np.savez_compressed(folder / "scores.npz", **scores)
    return metrics
