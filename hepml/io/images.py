"""Sparse pixel lists <-> dense wire x tick images, vectorised (no Python loop over pixels or events)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import awkward as ak
import numpy as np

from hepml.io.background import ordered_map
from hepml.io.read import iterate

__all__ = ["PIXEL_BRANCHES", "CHUNK_PIXELS", "densify", "gather", "iter_images", "events_per_chunk"]

PIXEL_BRANCHES = ("Pixel_plane", "Pixel_wire", "Pixel_tick", "Pixel_charge", "Pixel_label")


def _flat_index(arrays: Any, shape: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Event index and flat image index of every pixel of a chunk."""
    planes, wires, ticks = shape
    counts = ak.to_numpy(ak.num(arrays["Pixel_charge"], axis=1))
    event = np.repeat(np.arange(len(counts)), counts)
    plane = ak.to_numpy(ak.flatten(arrays["Pixel_plane"])).astype(np.int64)
    wire = ak.to_numpy(ak.flatten(arrays["Pixel_wire"])).astype(np.int64)
    tick = ak.to_numpy(ak.flatten(arrays["Pixel_tick"])).astype(np.int64)
    return event, ((event * planes + plane) * wires + wire) * ticks + tick


def densify(arrays: Any, shape: Sequence[int], *, labels: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Scatter a chunk's pixel lists into (events, planes, wires, ticks) charge (and label) arrays."""
    n = len(arrays["Pixel_charge"])
    size = n * int(np.prod(shape))
    _, flat = _flat_index(arrays, shape)
    charge = np.zeros(size, np.float32)
    np.add.at(charge, flat, ak.to_numpy(ak.flatten(arrays["Pixel_charge"])))
    if not labels:
        return charge.reshape((n, *shape)), None
    label = np.zeros(size, np.int8)
    label[flat] = ak.to_numpy(ak.flatten(arrays["Pixel_label"]))
    return charge.reshape((n, *shape)), label.reshape((n, *shape))


def gather(dense: np.ndarray, arrays: Any) -> ak.Array:
    """Per-pixel values of dense per-event outputs (events, planes, wires, ticks[, k]), as jagged
    arrays aligned with each event's pixel list (same pixels, same order)."""
    shape = dense.shape[1:4]
    _, flat = _flat_index(arrays, shape)
    values = dense.reshape((-1, *dense.shape[4:]))[flat]
    counts = ak.to_numpy(ak.num(arrays["Pixel_charge"], axis=1))
    return ak.unflatten(values, counts)


CHUNK_PIXELS = 16 * 2**20  # dense pixels per chunk: 64 MB of float32 charge


def events_per_chunk(shape: Sequence[int], wanted: int) -> int:
    """``wanted`` events, but no more than :data:`CHUNK_PIXELS` dense pixels: the demo's
    3 x 128 x 128 windows go 64 or 256 at a time as ever, SBND's full 3 x 2048 x 1280 window two at a
    time, so the memory of densifying, training and scoring does not grow with the window."""
    return max(1, min(int(wanted), CHUNK_PIXELS // int(np.prod(shape))))


def iter_images(inputs: Any, shape: Sequence[int], *, step_size: int | str = 64, labels: bool = True,
                readers: int = 1) -> Iterator[tuple[np.ndarray, np.ndarray | None, Any]]:
    """Dense images chunk by chunk from sparse ROOT files: (charge, labels, the chunk's arrays);
    ``readers`` threads densify the next chunks while the caller works on this one."""
    branches = list(PIXEL_BRANCHES if labels else PIXEL_BRANCHES[:4]) + ["event"]

    def dense(chunk: Any) -> tuple[np.ndarray, np.ndarray | None, Any]:
        return (*densify(chunk.arrays, shape, labels=labels), chunk.arrays)

    yield from ordered_map(dense, iterate(inputs, branches, step_size=step_size), readers)
