"""Per-pixel scores of the cosmic tagger, written back as friend trees aligned with the pixel lists."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepml.bundle import load_keras_file, read_info
from hepml.errors import BundleError, ConfigError
from hepml.io.images import PIXEL_BRANCHES, densify, events_per_chunk, gather
from hepml.io.read import iterate, open_tree, resolve_sources
from hepml.io.write import write_friend
from hepml.models.augment import require_mirror_planes
from hepml.simulate.lartpc import COSMIC, NEUTRINO

__all__ = ["load_segmenter", "predict_pixels", "score_pixels"]


def load_segmenter(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """The network (loaded with safe_mode: its custom layers are registered, no code runs) and its info."""
    import hepml.models.uresnet  # noqa: F401  (registers the custom layers)

    info = read_info(path)
    if info.get("kind") != "segmentation":
        raise BundleError(f"{path}: not a segmentation bundle (kind {info.get('kind')!r}); use the bundle "
                          "'hepml train-segmentation' wrote")
    return load_keras_file(path, info["models"][0], info), info


def predict_pixels(model: Any, charge: np.ndarray, batch: int = 16, *, mirrors: bool = False) -> np.ndarray:
    """Class probabilities (events, planes, wires, ticks, classes) of dense images, in batches of at
    most ``batch`` windows (fewer for large windows, :func:`hepml.io.images.events_per_chunk`); with
    ``mirrors``, the mean over each event's four mirror images (:func:`hepml.models.augment.mirror_average`).
    Through the compiled predict step: an eager call holds every layer's output to its end (9.8 GB
    instead of 2.6 GB for two full SBND windows), and the numbers are the same."""
    batch = events_per_chunk(charge.shape[1:], batch)
    if mirrors:
        from hepml.models.augment import mirror_average

        return mirror_average(lambda images: predict_pixels(model, images, batch), charge)
    return (
        np.concatenate(
            [
                np.asarray(model.predict_on_batch(charge[i : i + batch]), dtype=np.float32)
                for i in range(0, len(charge), batch)
            ]
        )
        if len(charge)
        else np.zeros((0, *charge.shape[1:], 3), np.float32)
    )


def score_pixels(
    bundle: str | os.PathLike[str],
    source: str,
    output: str | os.PathLike[str],
    *,
    threshold: float = 0.5,
    write_removed: bool = False,
    mirrors: bool = False,
    step_size: int = 64,
) -> Path:
    """Friend tree with ``Pixel_cosmic`` and ``Pixel_neutrino`` probabilities aligned with each event's
    pixel list; with ``write_removed``, also the cosmic-removed pixel list (``Clean_*``, pixels whose
    cosmic probability is below ``threshold``); with ``mirrors``, each window scored as the mean
    over its four mirror images (SBND-like three planes only)."""
    model, info = load_segmenter(bundle)
    shape = tuple(info["shape"])
    if mirrors:
        require_mirror_planes(shape[0], "score mirrors")
    (src,) = resolve_sources(source, "Events")
    n = int(open_tree(src).num_entries)

    def chunks() -> Iterator[dict[str, Any]]:
        for chunk in iterate(src, [*PIXEL_BRANCHES[:4], "event"], step_size=events_per_chunk(shape, step_size)):
            arrays = chunk.arrays
            for name, limit in (("Pixel_plane", shape[0]), ("Pixel_wire", shape[1]), ("Pixel_tick", shape[2])):
                highest = ak.max(arrays[name], axis=None) if len(arrays) else None
                if highest is not None and highest >= limit:
                    raise ConfigError(
                        f"{src}: {name} reaches {highest} but the bundle's images "
                        f"have {limit}; score with a bundle trained on this geometry"
                    )
            charge, _ = densify(arrays, shape, labels=False)
            probs = gather(predict_pixels(model, charge, mirrors=mirrors), arrays)
            columns: dict[str, Any] = {
                "event": ak.to_numpy(arrays["event"]),
                "Pixel": ak.zip({"cosmic": probs[..., COSMIC], "neutrino": probs[..., NEUTRINO]}),
            }
            if write_removed:
                keep = probs[..., COSMIC] < threshold
                columns["Clean"] = ak.zip({k: arrays[f"Pixel_{k}"][keep] for k in ("plane", "wire", "tick", "charge")})
            yield columns

    return write_friend(output, chunks(), tree="scores", expected_entries=n, progress=f"scoring {Path(output).name}")
