"""SBND-like LArTPC readout windows: cosmic muons and one neutrino interaction, seen by three
wire planes as wire x time-tick images with per-pixel labels (0 background, 1 cosmic, 2 neutrino).

One 3D event is projected consistently on every plane: a point (x, y, z) lands on wire
``floor((z cos a + y sin a - u_min) / pitch)`` of a plane whose wires make angle ``a`` with the
vertical (the collection plane has a = 0: vertical wires, wire number measures z) and on tick
``floor((x + shift) / tick_size)``, where x is the drift distance to the anode and ``shift`` the
drift-coordinate offset of a particle that crossed the detector ``t0`` before or after the trigger
(cosmics arrive at random times, so their tracks move along the drift direction and may leave the
window; the neutrino is in time).

Physics, kept simple but honest: cosmics with a cos^2(zenith) distribution entering through the
top, straight with a multiple-scattering random walk and occasional delta rays; the neutrino
vertex in the fiducial volume with a muon, 0-3 protons (Bragg peak: dE/dx ~ R^-0.42), 0-2 pions
and possibly an electromagnetic shower (a gappy, branching cascade of short segments); charge
from dE/dx with Landau-like (Moyal) fluctuations, attenuation with drift distance, diffusion that
grows with sqrt(drift), electronics noise and a threshold.  **Overlap rule**: a pixel takes the
label of the class that deposited more true charge in it (ties go to the neutrino); pixels above
threshold with no true charge (noise) are background, 0.  Stored as a sparse pixel list per event.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepml.settings import FRACTION, NON_NEGATIVE, POSITIVE, Settings

__all__ = ["Geometry", "LArTPCConfig", "project", "generate_deposits", "simulate_images", "iter_chunks",
           "write_events", "BACKGROUND", "COSMIC", "NEUTRINO"]

BACKGROUND, COSMIC, NEUTRINO = 0, 1, 2
MIP_DEDX = 2.1  # MeV/cm


@dataclass(frozen=True)
class Geometry:
    """The TPC box (cm), three planes' wire angles (degrees from vertical) and the image size."""

    drift_length: float = 256.0          # x: 0 (anode) .. drift_length
    height: float = 256.0                # y: -height/2 .. height/2
    length: float = 256.0                # z: 0 .. length
    angles: tuple[float, ...] = (60.0, -60.0, 0.0)
    wires: int = 128
    ticks: int = 128

    @property
    def planes(self) -> int:
        return len(self.angles)

    def u_range(self, plane: int) -> tuple[float, float]:
        a = np.radians(self.angles[plane])
        corners = [z * np.cos(a) + y * np.sin(a) for z in (0.0, self.length)
                   for y in (-self.height / 2, self.height / 2)]
        return float(min(corners)), float(max(corners))


@dataclass(frozen=True)
class LArTPCConfig(Settings):
    """Generator and detector-response knobs (the DANN pseudo-data changes some of them)."""

    what = "lartpc"
    limits = {
        **{k: NON_NEGATIVE for k in ("cosmic_mean", "noise", "threshold", "diffusion")},
        **{k: POSITIVE for k in ("step", "gain", "attenuation_length")},
        **{k: FRACTION for k in ("delta_ray_probability", "shower_probability", "dead_wire_fraction")},
    }

    cosmic_mean: float = 8.0
    delta_ray_probability: float = 0.3
    shower_probability: float = 0.5
    step: float = 0.3                    # cm between charge deposits
    gain: float = 1.0
    noise: float = 0.04                  # per pixel, in MIP units
    threshold: float = 0.15
    attenuation_length: float = 1000.0   # cm of drift
    diffusion: float = 0.08              # cm / sqrt(cm of drift)
    dead_wire_fraction: float = 0.0

    def shifted(self, **changes: float) -> LArTPCConfig:
        return replace(self, **changes)




def project(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, geometry: Geometry, plane: int
) -> tuple[np.ndarray, np.ndarray]:
    """Wire and tick indices of points in one plane (may fall outside the image: callers mask)."""
    a = np.radians(geometry.angles[plane])
    lo, hi = geometry.u_range(plane)
    pitch = (hi - lo) / geometry.wires
    wire = np.floor((z * np.cos(a) + y * np.sin(a) - lo) / pitch).astype(np.int64)
    tick = np.floor(x / (geometry.drift_length / geometry.ticks)).astype(np.int64)
    return wire, tick


def _unit(cos_theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    sin_theta = np.sqrt(np.clip(1 - cos_theta**2, 0, 1))
    return np.stack([sin_theta * np.cos(phi), cos_theta, sin_theta * np.sin(phi)], axis=-1)  # (x, y, z); y up


def _tracks_to_points(
    start: np.ndarray,
    direction: np.ndarray,
    length: np.ndarray,
    kind: np.ndarray,
    scatter: np.ndarray,
    rng: np.random.Generator,
    step: float,
) -> dict[str, np.ndarray]:
    """Deposit points along straight tracks with a transverse random walk; vectorised over tracks."""
    n_pts = np.maximum(1, np.ceil(length / step).astype(np.int64))
    track = np.repeat(np.arange(len(length)), n_pts)
    first = np.cumsum(n_pts) - n_pts
    k = np.arange(n_pts.sum()) - first[track]
    s = (k + 0.5) * step
    walk = rng.normal(0.0, 1.0, (len(track), 2)) * (scatter[track] * np.sqrt(step))[:, None]
    walk = np.cumsum(walk, axis=0)
    walk -= np.repeat(walk[first], n_pts, axis=0)  # each track's walk starts at its start point
    d = direction[track]
    ortho1 = np.cross(d, np.array([0.0, 0.0, 1.0]))
    ortho1 /= np.maximum(np.linalg.norm(ortho1, axis=1, keepdims=True), 1e-9)
    ortho2 = np.cross(d, ortho1)
    pos = start[track] + d * s[:, None] + ortho1 * walk[:, :1] + ortho2 * walk[:, 1:]
    residual = length[track] - s
    return {"pos": pos, "track": track, "residual": residual, "kind": kind[track]}


class _Tracks:
    """Straight track segments of one batch of windows, collected before they become points."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in ("start", "direction", "length", "kind", "scatter",
                                                                   "event", "label", "shift")}

    def add(self, event: np.ndarray, start: np.ndarray, direction: np.ndarray, length: np.ndarray,
            kind: np.ndarray, scatter: np.ndarray, label: int, shift: np.ndarray) -> None:
        for key, value in (("start", start), ("direction", direction), ("length", length), ("kind", kind),
                           ("scatter", scatter), ("event", event), ("label", np.full(len(event), label)),
                           ("shift", shift)):
            self.parts[key].append(value)

    def __getitem__(self, key: str) -> np.ndarray:
        return np.concatenate(self.parts[key])


def _isotropic(rng: np.random.Generator, n: int) -> np.ndarray:
    return _unit(rng.uniform(-1, 1, n), rng.uniform(-np.pi, np.pi, n))


def _add_cosmics(tracks: _Tracks, n_events: int, g: Geometry, c: LArTPCConfig, rng: np.random.Generator) -> None:
    """Through the top face, cos^2 zenith (cos = U^(1/3)), random arrival time -> drift shift; delta
    rays off some of them."""
    ev = np.repeat(np.arange(n_events), rng.poisson(c.cosmic_mean, n_events))
    m = len(ev)
    cos_z = rng.random(m) ** (1 / 3)
    d = _unit(-cos_z, rng.uniform(-np.pi, np.pi, m))
    top = np.stack([rng.uniform(-0.5, 1.5, m) * g.drift_length, np.full(m, g.height / 2),
                    rng.uniform(-0.5, 1.5, m) * g.length], axis=1)
    shift = rng.uniform(-1.0, 1.0, m) * g.drift_length
    span = 2.5 * max(g.height, g.length)
    tracks.add(ev, top, d, np.full(m, span), np.zeros(m, int), np.full(m, 0.02), COSMIC, shift)
    delta = rng.random(m) < c.delta_ray_probability
    k = int(delta.sum())
    if k:
        start = top[delta] + d[delta] * (rng.uniform(0.2, 0.9, k) * 2.5 * max(g.height, g.length))[:, None]
        direction = _unit(rng.uniform(-1, 1, k), rng.uniform(-np.pi, np.pi, k))
        tracks.add(ev[delta], start, direction, rng.uniform(2, 8, k), np.zeros(k, int), np.full(k, 0.3), COSMIC,
                   shift[delta])


def _add_neutrinos(tracks: _Tracks, n_events: int, g: Geometry, c: LArTPCConfig, rng: np.random.Generator) -> None:
    """A vertex in the fiducial volume, in time: a muon, 0-3 protons, 0-2 pions and, often, an EM
    shower of short segments around an axis, after a conversion gap, spreading laterally."""
    ev = np.arange(n_events)
    vtx = np.stack([rng.uniform(0.15, 0.85, n_events) * g.drift_length,
                    rng.uniform(-0.35, 0.35, n_events) * g.height,
                    rng.uniform(0.15, 0.85, n_events) * g.length], axis=1)
    direction = _isotropic(rng, n_events)
    tracks.add(ev, vtx, direction, rng.uniform(40, 150, n_events), np.zeros(n_events, int), np.full(n_events, 0.05),
               NEUTRINO, np.zeros(n_events))
    protons, pions = rng.integers(0, 4, n_events), rng.integers(0, 3, n_events)
    for count, kind, lo, hi in ((protons, 1, 2.0, 20.0), (pions, 0, 10.0, 60.0)):
        e = np.repeat(ev, count)
        direction = _isotropic(rng, len(e))
        tracks.add(e, vtx[e], direction, rng.uniform(lo, hi, len(e)), np.full(len(e), kind), np.full(len(e), 0.1),
                   NEUTRINO, np.zeros(len(e)))
    shower = np.flatnonzero(rng.random(n_events) < c.shower_probability)
    if len(shower):
        n_seg = rng.integers(15, 40, len(shower))
        e = np.repeat(shower, n_seg)
        axis = np.repeat(_isotropic(rng, len(shower)), n_seg, axis=0)
        depth = rng.exponential(3.0, len(e)) + rng.gamma(2.0, 8.0, len(e))
        lateral = rng.normal(0.0, 1.0, (len(e), 3)) * (0.5 + 0.12 * depth)[:, None]
        seg_dir = axis + rng.normal(0, 0.5, (len(e), 3))
        seg_dir /= np.linalg.norm(seg_dir, axis=1, keepdims=True)
        tracks.add(e, vtx[e] + axis * depth[:, None] + lateral, seg_dir, rng.exponential(2.0, len(e)) + 0.5,
                   np.full(len(e), 2), np.full(len(e), 0.3), NEUTRINO, np.zeros(len(e)))


def generate_deposits(n_events: int, geometry: Geometry, config: LArTPCConfig,
                      rng: np.random.Generator) -> dict[str, np.ndarray]:
    """True charge deposits of ``n_events`` windows: positions, charge (MIP units), label, event."""
    tracks = _Tracks()
    _add_cosmics(tracks, n_events, geometry, config, rng)
    _add_neutrinos(tracks, n_events, geometry, config, rng)
    pts = _tracks_to_points(tracks["start"], tracks["direction"], tracks["length"], tracks["kind"],
                            tracks["scatter"], rng, config.step)
    per_track = {"event": tracks["event"], "label": tracks["label"], "shift": tracks["shift"]}
    return _deposits(pts, per_track, geometry, config, rng)


def _deposits(
    pts: dict[str, np.ndarray], per_track: dict[str, np.ndarray], g: Geometry, c: LArTPCConfig, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Charge of the points along the tracks: dE/dx (Bragg peak for protons), Landau-like
    fluctuations, attenuation and diffusion with drift distance; only points inside the TPC."""
    t = pts["track"]
    ev_all, label_all, shift_all = (per_track[k][t] for k in ("event", "label", "shift"))
    dedx = np.full(len(t), MIP_DEDX)
    proton = pts["kind"] == 1
    dedx[proton] = np.clip(17.0 * np.maximum(pts["residual"][proton], 0.05) ** -0.42, MIP_DEDX, 40.0)
    landau = np.clip(rng.standard_normal(len(t)) * 0.15 + 1.0 + 0.1 * rng.exponential(1.0, len(t)), 0.3, 5.0)
    x_true = pts["pos"][:, 0]
    inside = (
        (x_true >= 0)
        & (x_true < g.drift_length)
        & (np.abs(pts["pos"][:, 1]) < g.height / 2)
        & (pts["pos"][:, 2] >= 0)
        & (pts["pos"][:, 2] < g.length)
    )
    pitch = g.length / g.wires
    charge = dedx / MIP_DEDX * landau * c.step / pitch * np.exp(-x_true / c.attenuation_length)
    sigma = c.diffusion * np.sqrt(np.clip(x_true, 0, None))
    smeared = pts["pos"] + rng.normal(0, 1, pts["pos"].shape) * sigma[:, None]
    return {
        "x": smeared[inside, 0] + shift_all[inside],
        "y": smeared[inside, 1],
        "z": smeared[inside, 2],
        "charge": charge[inside] * c.gain,
        "label": label_all[inside],
        "event": ev_all[inside],
    }


def simulate_images(
    n_events: int, geometry: Geometry, config: LArTPCConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Dense measured charge (events, planes, wires, ticks) float32 and labels int8 (see overlap rule)."""
    g = geometry
    dep = generate_deposits(n_events, g, config, rng)
    size = n_events * g.planes * g.wires * g.ticks
    q_cos = np.zeros(size)
    q_nu = np.zeros(size)
    for p in range(g.planes):
        wire, tick = project(dep["x"], dep["y"], dep["z"], g, p)
        ok = (wire >= 0) & (wire < g.wires) & (tick >= 0) & (tick < g.ticks)
        flat = ((dep["event"][ok] * g.planes + p) * g.wires + wire[ok]) * g.ticks + tick[ok]
        cos = dep["label"][ok] == COSMIC
        q_cos += np.bincount(flat[cos], dep["charge"][ok][cos], size)
        q_nu += np.bincount(flat[~cos], dep["charge"][ok][~cos], size)
    shape = (n_events, g.planes, g.wires, g.ticks)
    cosmic_q, neutrino_q = q_cos.reshape(shape), q_nu.reshape(shape)
    measured = cosmic_q + neutrino_q + rng.normal(0.0, config.noise, shape)
    if config.dead_wire_fraction > 0:
        dead = rng.random((g.planes, g.wires)) < config.dead_wire_fraction
        measured[:, dead, :] = 0.0
    keep = measured > config.threshold
    labels = np.where(neutrino_q >= cosmic_q, NEUTRINO, COSMIC)
    labels = np.where((cosmic_q + neutrino_q) > 0, labels, BACKGROUND)
    return np.where(keep, measured, 0.0).astype(np.float32), np.where(keep, labels, BACKGROUND).astype(np.int8)


def to_sparse(charge: np.ndarray, labels: np.ndarray) -> ak.Array:
    """Dense images -> per-event jagged pixel lists ``{plane, wire, tick, charge, label}``."""
    ev, plane, wire, tick = np.nonzero(charge)
    counts = np.bincount(ev, minlength=charge.shape[0])
    return ak.unflatten(
        ak.zip(
            {
                "plane": plane.astype(np.int8),
                "wire": wire.astype(np.int16),
                "tick": tick.astype(np.int16),
                "charge": charge[ev, plane, wire, tick].astype(np.float32),
                "label": labels[ev, plane, wire, tick],
            }
        ),
        counts,
    )


def iter_chunks(
    n_events: int,
    *,
    seed: int = 1,
    geometry: Geometry | None = None,
    config: LArTPCConfig | None = None,
    chunk_size: int = 100,
    first_event: int = 0,
) -> Iterator[dict[str, Any]]:
    """Columns of ``chunk_size`` events at a time (fewer for large windows, whose dense images would
    not fit: :func:`hepml.io.images.events_per_chunk`): event number, pixel list, truth summaries."""
    from hepml.io.images import events_per_chunk

    g, c = geometry or Geometry(), config or LArTPCConfig()
    chunk_size = events_per_chunk((g.planes, g.wires, g.ticks), chunk_size)
    rng = np.random.default_rng([seed, 2024])
    for start in range(0, n_events, chunk_size):
        m = min(chunk_size, n_events - start)
        charge, labels = simulate_images(m, g, c, rng)
        pixels = to_sparse(charge, labels)
        yield {
            "event": (first_event + start + np.arange(m)).astype(np.int64),
            "Pixel": pixels,
            "neutrino_charge": ak.to_numpy(ak.sum(pixels.charge * (pixels.label == NEUTRINO), axis=1)).astype(
                np.float32
            ),
        }


def write_events(path: str | os.PathLike[str], n_events: int, *, tree: str = "Events", **kwargs: Any) -> None:
    """Write ``n_events`` readout windows as a sparse TTree, atomically and in chunks."""
    from hepml.io.write import write_friend

    write_friend(path, iter_chunks(n_events, **kwargs), tree=tree, expected_entries=n_events,
                 progress=f"generating {Path(path).name}")
