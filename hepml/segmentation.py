"""The cosmic-removal task: train a UResNet on sparse LArTPC files, write per-pixel scores back,
and measure what a physicist cares about (IoU, cosmic rejection, neutrino efficiency, retention).

Images are densified chunk by chunk from the ROOT files inside a ``tf.data`` pipeline with prefetch,
so the training set never has to fit in memory.  Events with ``event % 10 == 0`` are the
validation set, never trained on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepml.bundle import FORMAT_VERSION, load_keras_file, provenance, read_info, write_info, write_json
from hepml.errors import BundleError, EmptyInputError, HepmlError
from hepml.io.atomic import atomic_path
from hepml.io.images import PIXEL_BRANCHES, densify, gather, iter_images
from hepml.io.read import iterate, open_tree, resolve_sources
from hepml.io.write import write_friend
from hepml.simulate.lartpc import BACKGROUND, COSMIC, NEUTRINO
from hepml.split import is_validation_window

__all__ = ["train_segmentation", "load_segmenter", "score_pixels", "evaluate_segmentation"]


def _chunk(batch: int) -> int:
    """Events read per chunk: several batches, so densifying is vectorised over many events."""
    return max(batch * 8, 64)


def _in_split(arrays: Any, validation: bool) -> np.ndarray:
    """Training or validation windows (:func:`hepml.split.is_validation_window`)."""
    return is_validation_window(ak.to_numpy(arrays["event"])) == validation


def _batches(inputs: Sequence[str], shape: Sequence[int], batch: int, validation: bool,
             weights: np.ndarray, empty_weight: float) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    from hepml.models.uresnet import pixel_weights

    for charge, labels, arrays in iter_images(inputs, shape, step_size=_chunk(batch)):
        keep = _in_split(arrays, validation)
        charge, labels = charge[keep], labels[keep]
        for i in range(0, len(charge), batch):
            q, y = charge[i:i + batch], labels[i:i + batch]
            yield q, y.astype(np.int32), pixel_weights(y, q, weights, empty_weight)


def _dann_batches(sources: Sequence[str], targets: Sequence[str], shape: Sequence[int], batch: int, validation: bool,
                  weights: np.ndarray, empty_weight: float) -> Iterator[tuple[Any, ...]]:
    """Source batches with as many target images each; the target files are read without their
    label branch and cycled when they run out before the source (:func:`_check_target` made sure
    that each split of the target has images, so the cycle never spins on nothing)."""
    from hepml.models.dann import dann_image_batch

    def target_images() -> Iterator[np.ndarray]:
        while True:
            for charge, _, arrays in iter_images(targets, shape, step_size=_chunk(batch), labels=False):
                charge = charge[_in_split(arrays, validation)]
                for i in range(0, len(charge), batch):
                    yield charge[i:i + batch]

    stream = target_images()
    for q, y, w in _batches(sources, shape, batch, validation, weights, empty_weight):
        yield dann_image_batch(q, y, w, next(stream))


def _count_batches(files: Sequence[str], batch: int, validation: bool = False) -> int:
    """Batches per epoch of one split, as :func:`_batches` makes them (for the DANN schedules)."""
    return sum(-(-int(np.sum(_in_split(c.arrays, validation))) // batch)
               for c in iterate(files, ["event"], step_size=_chunk(batch)))


def _check_target(targets: Sequence[str], shape: Sequence[int], batch: int) -> None:
    """Fail before training, with a plain message: inside ``tf.data`` an error reaches the user
    wrapped in a TensorFlow traceback."""
    next(iter_images(targets, shape, step_size=1, labels=False), None)  # missing branches, unreadable files
    for validation, split in ((False, "training"), (True, "validation")):
        if _count_batches(targets, batch, validation) == 0:
            raise EmptyInputError(f"{', '.join(targets)}: no target events for the {split} set (events with "
                                  f"event % 10 {'==' if validation else '!='} 0); give DANN more unlabelled events")


def train_segmentation(inputs: Sequence[str], out: str | os.PathLike[str], *, shape: Sequence[int],
                       model_config: dict[str, Any] | None = None, seed: int = 0,
                       target: Sequence[str] | None = None, dann_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train the UResNet on sparse event files; write a bundle (model.keras + bundle.json).

    With ``target`` (unlabelled files, e.g. data), train domain-adversarially: every batch adds as
    many target images, whose labels are never read; the bundle holds the task network only."""
    from hepml.models.uresnet import UResNetConfig, class_weights, fit_uresnet, use_mixed_precision_if_gpu

    config = UResNetConfig.from_dict(model_config)
    shape = tuple(int(s) for s in shape)
    sources = [str(s) for s in resolve_sources(list(inputs))]
    targets = [str(s) for s in resolve_sources(list(target))] if target else []
    mixed = use_mixed_precision_if_gpu()
    # class weights from the first chunks (a few hundred events are plenty for frequencies)
    first = next(iter_images(sources, shape, step_size=256), None)
    if first is None:
        raise EmptyInputError(f"{', '.join(sources)}: no events to train on")
    weights = class_weights(first[1], first[0])
    settings: dict[str, Any] = {"model_config": config.as_dict(), "shape": list(shape)}
    if targets:
        from hepml.models.dann import DannConfig, fit_dann_uresnet

        dann = DannConfig.from_dict(dann_config)
        _check_target(targets, shape, config.batch_size)
        settings["dann"] = dann.as_dict()
        model, history = fit_dann_uresnet(
            lambda validation: _dann_batches(sources, targets, shape, config.batch_size, validation, weights,
                                             config.empty_weight),
            shape, config, dann, _count_batches(sources, config.batch_size), seed=seed)
    else:
        model, history = fit_uresnet(
            lambda validation: _batches(sources, shape, config.batch_size, validation, weights, config.empty_weight),
            shape, config, seed=seed)
    info = {
        "format": FORMAT_VERSION, "kind": "segmentation", "model": "uresnet-dann" if targets else "uresnet",
        "shape": list(shape), "classes": ["background", "cosmic", "neutrino"], "class_weights": weights.tolist(),
        "models": ["model.keras"], "mixed_precision": mixed,
        "provenance": provenance(settings, [*sources, *targets], seed),
    }
    with atomic_path(out) as folder:
        folder.mkdir()
        model.save(folder / "model.keras")
        write_json(folder / "history.json", history)
        write_info(folder, info)
    return info


def load_segmenter(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """The network (loaded with safe_mode: its custom layers are registered, no code runs) and its info."""
    import hepml.models.uresnet  # noqa: F401  (registers the custom layers)

    info = read_info(path)
    if info.get("kind") != "segmentation":
        raise BundleError(f"{path}: not a segmentation bundle (kind {info.get('kind')!r}); use the bundle "
                          "'hepml train-segmentation' wrote")
    return load_keras_file(path, info["models"][0]), info


def _predict(model: Any, charge: np.ndarray, batch: int = 16) -> np.ndarray:
    return np.concatenate([np.asarray(model(charge[i:i + batch], training=False), dtype=np.float32)
                           for i in range(0, len(charge), batch)]) if len(charge) else np.zeros((0, *charge.shape[1:], 3), np.float32)


def score_pixels(bundle: str | os.PathLike[str], source: str, output: str | os.PathLike[str], *,
                 threshold: float = 0.5, write_removed: bool = False, step_size: int = 64) -> Path:
    """Friend tree with ``Pixel_cosmic`` and ``Pixel_neutrino`` probabilities aligned with each event's
    pixel list; with ``write_removed``, also the cosmic-removed pixel list (``Clean_*``, pixels whose
    cosmic probability is below ``threshold``)."""
    model, info = load_segmenter(bundle)
    shape = tuple(info["shape"])
    (src,) = resolve_sources(source, "Events")
    n = int(open_tree(src).num_entries)

    def chunks() -> Iterator[dict[str, Any]]:
        for chunk in iterate(src, [*PIXEL_BRANCHES[:4], "event"], step_size=step_size):
            arrays = chunk.arrays
            for name, limit in (("Pixel_plane", shape[0]), ("Pixel_wire", shape[1]), ("Pixel_tick", shape[2])):
                highest = ak.max(arrays[name], axis=None) if len(arrays) else None
                if highest is not None and highest >= limit:
                    raise HepmlError(f"{src}: {name} reaches {highest} but the bundle's images "
                                     f"have {limit}; score with a bundle trained on this geometry")
            charge, _ = densify(arrays, shape, labels=False)
            probs = gather(_predict(model, charge), arrays)
            columns: dict[str, Any] = {
                "event": ak.to_numpy(arrays["event"]),
                "Pixel": ak.zip({"cosmic": probs[..., COSMIC], "neutrino": probs[..., NEUTRINO]}),
            }
            if write_removed:
                keep = probs[..., COSMIC] < threshold
                columns["Clean"] = ak.zip({k: arrays[f"Pixel_{k}"][keep] for k in ("plane", "wire", "tick", "charge")})
            yield columns

    return write_friend(output, chunks(), tree="scores", expected_entries=n)


def evaluate_segmentation(truth: Sequence[str], scores: Sequence[str], out: str | os.PathLike[str], *,
                          shape: Sequence[int], threshold: float = 0.5, displays: str | None = None,
                          bundle: str | None = None, n_display: int = 3) -> dict[str, Any]:
    """Pixel metrics over every stored pixel (pixels without charge are background and predicted so)."""
    import uproot

    confusion = np.zeros((3, 3))
    cosmic_q = removed_cosmic_q = nu_q = kept_nu_q = 0.0
    retained, events, n_events = 0, 0, 0
    for truth_file, score_file in zip(truth, scores):
        t = uproot.open(truth_file)["Events"].arrays(["Pixel_charge", "Pixel_label", "event"])
        s = uproot.open(score_file)["scores"].arrays(["Pixel_cosmic", "Pixel_neutrino", "event"])
        n_events += len(t)
        if len(t) != len(s) or not np.array_equal(ak.to_numpy(t.event), ak.to_numpy(s.event)):
            raise HepmlError(f"{score_file}: its events do not line up with {truth_file}; score that file again")
        p_bg = 1.0 - s.Pixel_cosmic - s.Pixel_neutrino
        pred = ak.to_numpy(ak.flatten(ak.argmax(ak.concatenate([p_bg[..., None], s.Pixel_cosmic[..., None],
                                                               s.Pixel_neutrino[..., None]], axis=-1), axis=-1)))
        true = ak.to_numpy(ak.flatten(t.Pixel_label)).astype(int)
        q = ak.to_numpy(ak.flatten(t.Pixel_charge)).astype(np.float64)
        confusion += np.bincount(true * 3 + pred, minlength=9).reshape(3, 3)
        removed = ak.to_numpy(ak.flatten(s.Pixel_cosmic)) >= threshold
        cosmic_q += q[true == COSMIC].sum()
        removed_cosmic_q += q[(true == COSMIC) & removed].sum()
        nu_q += q[true == NEUTRINO].sum()
        kept_nu_q += q[(true == NEUTRINO) & ~removed].sum()
        ev_nu = ak.sum(t.Pixel_charge * (t.Pixel_label == NEUTRINO), axis=1)
        ev_kept = ak.sum(t.Pixel_charge * ((t.Pixel_label == NEUTRINO) & (s.Pixel_cosmic < threshold)), axis=1)
        has_nu = ak.to_numpy(ev_nu) > 0
        retained += int(np.sum(ak.to_numpy(ev_kept)[has_nu] >= 0.9 * ak.to_numpy(ev_nu)[has_nu]))
        events += int(has_nu.sum())
    stored = confusion.sum()
    total_pixels = n_events * int(np.prod(shape))
    empty = total_pixels - stored
    correct = np.trace(confusion) + empty
    iou_by_class = {name: float(confusion[c, c] / (confusion[c, :].sum() + confusion[:, c].sum() - confusion[c, c]))
                    if (confusion[c, :].sum() + confusion[:, c].sum()) else float("nan")
                    for c, name in ((BACKGROUND, "background"), (COSMIC, "cosmic"), (NEUTRINO, "neutrino"))}
    non_bg = confusion[1:, :].sum()
    metrics = {
        "iou": iou_by_class,
        "accuracy": {"overall": float(correct / total_pixels),
                     "non_background": float((confusion[1, 1] + confusion[2, 2]) / non_bg) if non_bg else float("nan"),
                     "stored_pixels": float(np.trace(confusion) / stored) if stored else float("nan")},
        "cosmic_rejection": removed_cosmic_q / cosmic_q if cosmic_q else float("nan"),
        "neutrino_efficiency": kept_nu_q / nu_q if nu_q else float("nan"),
        "event_neutrino_retention": retained / events if events else float("nan"),
        "threshold": threshold,
        "events": events,
        "confusion": confusion.tolist(),
    }
    with atomic_path(out) as tmp:
        write_json(tmp, metrics)
    if displays and bundle:
        from hepml.plotting import plot_event_displays

        plot_event_displays(bundle, truth[0], Path(displays), n_display)
    return metrics
