"""Training-time views of LArTPC windows: crops around activity, flips and the detector's mirrors.

Most pixels of a readout window are empty, so a crop centred on a charged pixel carries nearly the
same information for a fraction of the compute; the UResNet is fully convolutional, so it is trained
on crops and still scores whole windows.  Every plane of an event gets the same crop and the same
flips: the planes are merged position by position at the bottleneck, as they are at inference.
Flips reverse wires and ticks on every plane, which no motion of a real event produces (for the
induction planes it is no mirror of the detector); :func:`mirror` makes only the images of mirrored
events: the drift mirror and the up-down mirror, which exchanges the two induction planes.
:func:`mirror_average` uses the same symmetry at inference: the mean prediction over an event's
four mirror images, each mapped back onto the event's own pixels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hepml.errors import ConfigError

__all__ = ["augment", "crop_around_activity", "flip", "mirror", "mirror_average", "require_mirror_planes"]


def crop_around_activity(charge: np.ndarray, labels: np.ndarray, size: int, rng: np.random.Generator,
                         rare: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``size`` x ``size`` crops (events, planes, size, size) centred, up to a random shift of a
    quarter crop, on a random pixel with a true label; half of the crops centre on a pixel of class
    ``rare`` (the neutrino) where the event has one.  Events without activity get a random crop."""
    n, _, wires, ticks = charge.shape
    size_w, size_t = min(size, wires), min(size, ticks)
    out_q = np.empty((n, charge.shape[1], size_w, size_t), charge.dtype)
    out_y = np.empty((n, labels.shape[1], size_w, size_t), labels.dtype)
    for i in range(n):
        active = np.argwhere(labels[i] > 0)
        if len(active) and rng.random() < 0.5 and np.any(labels[i] == rare):
            active = np.argwhere(labels[i] == rare)
        if len(active):
            _, w, t = active[rng.integers(len(active))]
        else:
            w, t = rng.integers(wires), rng.integers(ticks)
        w0 = int(np.clip(w - size_w // 2 + rng.integers(-size_w // 4, size_w // 4 + 1), 0, wires - size_w))
        t0 = int(np.clip(t - size_t // 2 + rng.integers(-size_t // 4, size_t // 4 + 1), 0, ticks - size_t))
        out_q[i] = charge[i, :, w0:w0 + size_w, t0:t0 + size_t]
        out_y[i] = labels[i, :, w0:w0 + size_w, t0:t0 + size_t]
    return out_q, out_y


def flip(charge: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each event reversed along wires and along ticks, each with probability 1/2 (all planes alike)."""
    charge, labels = charge.copy(), labels.copy()
    for axis in (2, 3):
        chosen = rng.random(len(charge)) < 0.5
        charge[chosen] = np.flip(charge[chosen], axis=axis)
        labels[chosen] = np.flip(labels[chosen], axis=axis)
    return charge, labels


def require_mirror_planes(planes: int, setting: str) -> None:
    """The mirrors map the SBND-like planes onto each other; other geometries get a one-line error."""
    if planes != 3:
        raise ConfigError(f"{setting}: the images have {planes} planes; the mirrors need the three planes of the "
                          "SBND-like geometry (induction at +a and -a, then collection): leave mirrors out")


def _mirrored(images: np.ndarray, drift: bool, updown: bool) -> np.ndarray:
    """Events (axis 0) of planes (axis 1) x wires x ticks, and any trailing axes, seen through the
    drift mirror (ticks reversed) and/or the up-down mirror (induction planes 0 and 1 exchanged).
    Each mirror is its own inverse, so the same call maps a mirrored prediction back."""
    if drift:
        images = images[:, :, :, ::-1]
    if updown:
        images = images[:, [1, 0, *range(2, images.shape[1])]]
    return np.ascontiguousarray(images)


def mirror(charge: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each event, with probability 1/2 each, seen through the drift mirror (ticks reversed) and the
    up-down mirror (y -> -y).  With the induction wires at +a and -a from vertical (planes 0 and 1,
    as in :class:`hepml.simulate.lartpc.Geometry`), the up-down mirror of an event puts on each
    induction plane the image the other plane had, and leaves the collection plane as it is; the
    beam direction (z) is never reversed, so neutrino interactions stay forward."""
    charge, labels = charge.copy(), labels.copy()
    drift = rng.random(len(charge)) < 0.5
    charge[drift], labels[drift] = _mirrored(charge[drift], True, False), _mirrored(labels[drift], True, False)
    updown = rng.random(len(charge)) < 0.5
    charge[updown], labels[updown] = _mirrored(charge[updown], False, True), _mirrored(labels[updown], False, True)
    return charge, labels


def mirror_average(predict: Callable[[np.ndarray], np.ndarray], charge: np.ndarray) -> np.ndarray:
    """The mean of ``predict`` (per-pixel outputs, events x planes x wires x ticks x ...) over each
    event's four mirror images, mapped back onto the event's pixels: the detector's symmetry used
    at inference, for four times the compute (its gain is measured in the README).  A mean of
    probabilities is a probability."""
    views = [(drift, updown) for drift in (False, True) for updown in (False, True)]
    return np.mean([_mirrored(predict(_mirrored(charge, *view)), *view) for view in views], axis=0)


def augment(charge: np.ndarray, labels: np.ndarray, rng: np.random.Generator, *, crop: int = 0,
            flips: bool = False, mirrors: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The training view of a batch: :func:`crop_around_activity` when ``crop``, then :func:`flip`,
    then :func:`mirror`."""
    if crop:
        charge, labels = crop_around_activity(charge, labels, crop, rng)
    if flips:
        charge, labels = flip(charge, labels, rng)
    if mirrors:
        charge, labels = mirror(charge, labels, rng)
    return charge, labels
