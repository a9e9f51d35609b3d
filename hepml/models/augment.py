"""Training-time views of LArTPC windows: crops around activity, flips and the detector's mirrors.

Most pixels of a readout window are empty, so a crop centred on a charged pixel carries nearly the
same information for a fraction of the compute; the UResNet is fully convolutional, so it is trained
on crops and still scores whole windows.  Every plane of an event gets the same crop and the same
flips: the planes are merged position by position at the bottleneck, as they are at inference.
Flips reverse wires and ticks on every plane, which no motion of a real event produces (for the
induction planes it is no mirror of the detector); :func:`mirror` makes only the images of mirrored
events: the drift mirror and the up-down mirror, which exchanges the two induction planes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["augment", "crop_around_activity", "flip", "mirror"]


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


def mirror(charge: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each event, with probability 1/2 each, seen through the drift mirror (ticks reversed) and the
    up-down mirror (y -> -y).  With the induction wires at +a and -a from vertical (planes 0 and 1,
    as in :class:`hepml.simulate.lartpc.Geometry`), the up-down mirror of an event puts on each
    induction plane the image the other plane had, and leaves the collection plane as it is; the
    beam direction (z) is never reversed, so neutrino interactions stay forward."""
    charge, labels = charge.copy(), labels.copy()
    drift = rng.random(len(charge)) < 0.5
    charge[drift], labels[drift] = np.flip(charge[drift], axis=3), np.flip(labels[drift], axis=3)
    updown = rng.random(len(charge)) < 0.5
    charge[updown, :2], labels[updown, :2] = charge[updown][:, [1, 0]], labels[updown][:, [1, 0]]
    return charge, labels


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
