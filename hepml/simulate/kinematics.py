"""Vectorised relativistic kinematics for the generators: numpy arrays of (E, px, py, pz) rows."""

from __future__ import annotations

import numpy as np

__all__ = ["breit_wigner", "two_body_decay", "boost", "mass", "pt_eta_phi", "from_pt_eta_phi_m", "system"]


def breit_wigner(mass: float, width: float, lo: np.ndarray | float, hi: np.ndarray | float,
                 rng: np.random.Generator, size: int) -> np.ndarray:
    """Cauchy (Breit-Wigner) masses truncated to [lo, hi] per event, by inverse transform."""
    half = 0.5 * width
    a = np.arctan((np.asarray(lo, float) - mass) / half)
    b = np.arctan((np.asarray(hi, float) - mass) / half)
    return mass + half * np.tan(a + (b - a) * rng.random(size))


def boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Lorentz-boost four-vectors ``p`` (N, 4) by velocity ``beta`` (N, 3)."""
    b2 = np.einsum("ij,ij->i", beta, beta)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.einsum("ij,ij->i", beta, p[:, 1:])
    g2 = np.where(b2 > 0, (gamma - 1.0) / np.where(b2 > 0, b2, 1.0), 0.0)
    out = np.empty_like(p)
    out[:, 0] = gamma * (p[:, 0] + bp)
    out[:, 1:] = p[:, 1:] + (g2 * bp + gamma * p[:, 0])[:, None] * beta
    return out


def two_body_decay(parent: np.ndarray, m1: np.ndarray, m2: np.ndarray,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic two-body decay in the parent's rest frame, boosted to the lab."""
    n = len(parent)
    M = mass(parent)
    lam = (M**2 - (m1 + m2) ** 2) * (M**2 - (m1 - m2) ** 2)
    if np.any(lam < -1e-6 * M**4):
        raise ValueError("two_body_decay: daughters heavier than the parent")
    pstar = np.sqrt(np.maximum(lam, 0.0)) / (2.0 * M)
    cos_t = rng.uniform(-1.0, 1.0, n)
    sin_t = np.sqrt(1.0 - cos_t**2)
    phi = rng.uniform(-np.pi, np.pi, n)
    direction = np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=1)
    d1 = np.empty((n, 4))
    d1[:, 0] = np.sqrt(pstar**2 + m1**2)
    d1[:, 1:] = pstar[:, None] * direction
    d2 = np.empty((n, 4))
    d2[:, 0] = np.sqrt(pstar**2 + m2**2)
    d2[:, 1:] = -d1[:, 1:]
    beta = parent[:, 1:] / parent[:, :1]
    return boost(d1, beta), boost(d2, beta)


def mass(p: np.ndarray) -> np.ndarray:
    m2 = p[..., 0] ** 2 - np.sum(p[..., 1:] ** 2, axis=-1)
    return np.sqrt(np.maximum(m2, 0.0))


def pt_eta_phi(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pt = np.hypot(p[..., 1], p[..., 2])
    eta = np.arcsinh(np.divide(p[..., 3], pt, out=np.zeros_like(pt), where=pt > 0))
    return pt, eta, np.arctan2(p[..., 2], p[..., 1])


def from_pt_eta_phi_m(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, m: np.ndarray) -> np.ndarray:
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.stack([np.sqrt(px**2 + py**2 + pz**2 + m**2), px, py, pz], axis=-1)


def system(m: np.ndarray, pt: np.ndarray, y: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Four-vectors of a produced system of mass ``m`` with transverse momentum ``pt`` and rapidity ``y``."""
    mt = np.sqrt(m**2 + pt**2)
    return np.stack([mt * np.cosh(y), pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y)], axis=1)
