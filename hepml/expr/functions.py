"""The functions of the expression language (the evaluator in :mod:`hepml.expr` calls them).

Functions (``x`` jagged or flat; reductions act on the innermost jagged axis):

=====================  ====================================================================
``sqrt log exp abs``   element-wise maths; also ``sin cos tan arctan2 sinh cosh tanh``
``minimum maximum``    element-wise minimum / maximum of two arrays
``where(c, a, b)``     ``a`` where ``c`` else ``b``
``min max sum mean``   reduce along the jagged axis (empty lists give None -> the fill value)
``num(x)``             number of objects per event
``any all``            boolean reductions along the jagged axis
``first(x, n, fill=0)``first ``n`` objects per event, padded with ``fill``: an (events, n) array
``sort argsort``       along the jagged axis, ``ascending=False`` by default
``p4(pt, eta, phi, m)``four-vectors (``vector`` Momentum4D); ``p4xyz(px, py, pz, E)`` too
``pt eta phi mass``    four-vector components (also as attributes: ``jets.pt``, ``e``/``energy``)
``energy rapidity``    four-vector components
``deltaR deltaphi``    between two four-vectors (broadcast like arithmetic)
``vsum(v)``            sum of the four-vectors along the jagged axis
``neutrino(l, met, metphi, mw=80.4)``  neutrino four-vector from the W-mass constraint,
                       the smaller-|pz| root (real part where the discriminant is negative)
``hash(a, b, ...)``    one well-mixed integer per event from the exact bits of its values: a
                       fold key for ntuples without event numbers
``stack(a, b, ...)``   per-event lists from flat per-object branches (``stack(jet1_pt, jet2_pt)``),
                       so flat ntuples use the jagged functions above
=====================  ====================================================================

Combinatorics (objects per event as a jagged list; empty lists give None -> the fill value):

=====================  ====================================================================
``pairs(x)``           every pair of objects, as the *sum* of the two (for four-vectors the
                       combined four-vector: ``mass(pairs(jets))`` are the dijet masses)
``combinations(x, n)`` every n-combination, summed the same way (n from 2 to 5); at most
                       :data:`MAX_COMBINATIONS` per chunk, counted before any is built
``argmin argmax``      position of the smallest / largest value per event, as a one-element
                       list, so ``x[argmin(y)]`` picks from ``x`` and ``[:, 0]`` unwraps it
``best(x, key)``       ``x[argmin(key)][:, 0]``: the object of ``x`` with the smallest key
=====================  ====================================================================

Selecting objects by a mask is indexing: ``jets[Jet_btag < 0.5]``.  The hadronic W of a
semileptonic ttbar or ttH event, the light-jet pair closest to the W mass, is one line::

    best(pairs(light), abs(mass(pairs(light)) - 80.4))
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable
from typing import Any

import awkward as ak
import numpy as np
import vector

from hepml.split import event_hash

__all__ = [
    "FUNCTIONS", "KEYWORDS", "MAX_OBJECTS", "MAX_COMBINATIONS", "LimitError", "power", "plain_numbers",
    "cartesian_columns",
]

MAX_OBJECTS = 1000
MAX_COMBINATION = 5
# combinations built by one pairs()/combinations() call on one chunk: about 1 GB of indices and sums
# (the demo's W assignment needs 0.6 M for 200 000 events); past it, a smaller step_size helps
MAX_COMBINATIONS = 20_000_000


class LimitError(ValueError):
    """An expression asked for more than a documented limit; the evaluator names the expression."""

vector.register_awkward()


def _reduce(fn: Callable[..., Any]) -> Callable[[Any], Any]:
    def reducer(x: Any) -> Any:
        return fn(x, axis=-1)

    return reducer


def _p4(pt: Any, eta: Any, phi: Any, mass: Any) -> ak.Array:
    """Four-vectors stored in Cartesian form: sums are then plain additions, the costly part of
    invariant masses; pt, eta, phi and mass are recomputed only when asked for.  Branches of one
    collection (the same counts) are computed on their flat contents in numpy and rewrapped."""
    flat = _same_lists(pt, eta, phi, mass)
    if flat is not None:
        offsets, (pt, eta, phi, mass) = flat
    p = pt * np.cosh(eta)
    px, py, pz, energy = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), np.sqrt(p * p + mass * mass)
    if flat is None:
        return _p4xyz(px, py, pz, energy)
    record = _from_components(px, py, pz, energy).layout
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), record))


def _same_lists(*values: Any) -> tuple[np.ndarray, list[Any]] | None:
    """(offsets, flat contents) when every value is a jagged list of numbers with the same counts
    (or a plain number), else None."""
    offsets = None
    contents: list[Any] = []
    for value in values:
        if isinstance(value, (int, float)):
            contents.append(value)
            continue
        layout = value.layout if isinstance(value, ak.Array) else None
        if not isinstance(layout, ak.contents.ListOffsetArray) or layout.parameters:
            return None
        data = plain_numbers(layout.content)
        if data is None:
            return None
        these = np.asarray(layout.offsets.data)
        if offsets is None:
            offsets = these
        elif not (len(these) == len(offsets) and np.array_equal(these - these[0], offsets - offsets[0])):
            return None
        contents.append(data[these[0]:these[-1]])
    if offsets is None:
        return None
    return offsets - offsets[0], contents


def _p4xyz(px: Any, py: Any, pz: Any, energy: Any) -> ak.Array:
    px, py, pz, energy = ak.broadcast_arrays(px, py, pz, energy)
    return ak.zip({"px": px, "py": py, "pz": pz, "E": energy}, with_name="Momentum4D")


def _vsum(v: ak.Array) -> ak.Array:
    """Sum four-vectors along the jagged axis, component by component (robust for any layout)."""
    return _p4xyz(*(ak.sum(getattr(v, c), axis=-1) for c in ("px", "py", "pz", "E")))


def _neutrino(lep: ak.Array, met: Any, metphi: Any, mw: float = 80.4) -> ak.Array:
    """Neutrino with pT = MET and pz from m(l nu) = mW; the smaller |pz| root is the usual choice.
    One lepton per event and flat MET: all in numpy (the same formulas, a tenth of the time)."""
    flat, met_np, metphi_np = _flat_components(lep), _plain(met), _plain(metphi)
    if flat is not None and met_np is not None and metphi_np is not None:
        (lx, ly, lz, le), met, metphi = flat, met_np, metphi_np
    else:
        lx, ly, lz, le = lep.px, lep.py, lep.pz, lep.E
    nx, ny = met * np.cos(metphi), met * np.sin(metphi)
    lpt2 = lx**2 + ly**2
    mu = 0.5 * mw**2 + lx * nx + ly * ny
    a = mu * lz / lpt2
    disc = a**2 - (le**2 * (nx**2 + ny**2) - mu**2) / lpt2
    root = np.sqrt(np.maximum(disc, 0.0))
    pz = np.where(np.abs(a - root) < np.abs(a + root), a - root, a + root)
    if isinstance(disc, np.ndarray):
        pz = np.where(disc > 0, pz, a)
        return _from_components(nx, ny, pz, np.sqrt(nx**2 + ny**2 + pz**2))
    pz = ak.where(disc > 0, pz, a)
    energy = np.sqrt(nx**2 + ny**2 + pz**2)
    return _p4xyz(nx, ny, pz, energy)


def _plain(x: Any) -> np.ndarray | None:
    """``x`` as a numpy array when it is one number per event with none missing, else None."""
    if isinstance(x, np.ndarray) and x.ndim == 1:
        return x
    if isinstance(x, ak.Array) and x.ndim == 1:
        return plain_numbers(x.layout)
    return None


_NUMBERS = (int, float, np.integer, np.floating)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def power(base: Any, exponent: Any) -> Any:
    """``base ** exponent``; for two plain numbers, in float64 when an exact integer would exceed
    64 bits, so that constant powers cannot hang or exhaust memory."""
    if isinstance(base, _NUMBERS) and isinstance(exponent, _NUMBERS):
        if _is_int(base) and _is_int(exponent) and (
            exponent < 0 or abs(base) < 2 or exponent * math.log2(abs(base)) < 62
        ):
            return operator.pow(int(base), int(exponent))
        with np.errstate(over="ignore", invalid="ignore"):
            return float(np.power(np.float64(base), np.float64(exponent)))
    return operator.pow(base, exponent)


def _first(x: Any, n: int, fill: float = 0.0) -> ak.Array:
    if not _is_int(n) or not 1 <= n <= MAX_OBJECTS:
        raise ValueError(f"first(x, n) needs a whole number n from 1 to {MAX_OBJECTS}, got {n!r}")
    padded = ak.pad_none(x, int(n), axis=-1, clip=True)
    return ak.fill_none(padded, fill, axis=-1)


def _sort(x: Any, ascending: bool = False) -> ak.Array:
    return ak.sort(x, axis=-1, ascending=ascending)


def _argsort(x: Any, ascending: bool = False) -> ak.Array:
    return ak.argsort(x, axis=-1, ascending=ascending)


def _hash(*values: Any) -> np.ndarray:
    """splitmix64 chained over the values' bit patterns (integers as int64, the rest as float64), so
    equal inputs give equal keys on every platform and nearby floats give unrelated ones."""
    if any(isinstance(v, ak.Array) and v.ndim > 1 for v in values):
        raise ValueError("hash() takes one number per event; index jagged values (x[:, 0])")
    arrays = [np.ma.asarray(ak.to_numpy(v) if isinstance(v, ak.Array) else v) for v in values]
    if not arrays or any(a.ndim > 1 for a in arrays):
        raise ValueError("hash() takes one or more values with one number per event (index jagged ones: x[:, 0])")
    if any(np.ma.getmaskarray(a).any() for a in arrays):
        raise ValueError("hash() got a missing value (None); index objects every event has")
    n = max((len(a) for a in arrays if a.ndim), default=1)
    z = np.zeros(n, np.uint64)
    for a in arrays:
        data = np.broadcast_to(np.ma.getdata(a), (n,))
        bits = data.astype(np.int64) if data.dtype.kind in "iub" else data.astype(np.float64)
        z = event_hash(z ^ bits.view(np.uint64))
    return (z >> np.uint64(1)).astype(np.int64)


def _stack(*values: Any) -> ak.Array:
    """One list per event of the given one-per-event values, in argument order."""
    if not values or any(isinstance(v, ak.Array) and v.ndim > 1 for v in values):
        raise ValueError("stack() takes one or more values with one number per event (flat branches)")
    arrays = [ak.to_numpy(v) if isinstance(v, ak.Array) else np.asarray(v) for v in values]
    n = max((len(a) for a in arrays if a.ndim), default=1)
    columns = np.stack([np.broadcast_to(a, (n,)) for a in arrays], axis=1)
    return ak.from_regular(ak.Array(columns))


def _combinations(x: Any, n: int) -> ak.Array:
    """Every n-combination of the objects of each event, summed (four-vectors: the combined one)."""
    if not _is_int(n) or not 2 <= n <= MAX_COMBINATION:
        raise ValueError(f"combinations(x, n) needs a whole number n from 2 to {MAX_COMBINATION}, got {n!r}")
    if not isinstance(x, ak.Array) or x.ndim < 2:
        raise ValueError("combinations() and pairs() take a list of objects per event (a jagged array)")
    sizes, events = np.unique(ak.to_numpy(ak.num(x, axis=1)), return_counts=True)
    count = sum(math.comb(int(size), int(n)) * int(m) for size, m in zip(sizes, events))
    if count > MAX_COMBINATIONS:
        raise LimitError(f"combinations of {int(n)} would build {count:,} combinations for {len(x):,} events (at most "
                         f"{MAX_COMBINATIONS:,} per chunk): select fewer objects first (x[:, :6] or a mask), or read "
                         "smaller chunks (--step-size)")
    fast = _combination_sums(x, int(n))
    if fast is not None:
        return fast
    groups = ak.combinations(x, int(n), axis=1)
    return functools.reduce(operator.add, (groups[str(i)] for i in range(int(n))))


def _combination_sums(x: ak.Array, n: int) -> ak.Array | None:
    """The sums of :func:`_combinations` from index arithmetic in numpy, for a jagged list of
    numbers or of Cartesian four-vectors (the usual case: jets), else None.  Summing awkward's
    combination records costs 8 ms per 100k events, this 1 ms; the sums are the same."""
    layout = x.layout
    if not isinstance(layout, ak.contents.ListOffsetArray) or layout.parameters:
        return None
    content = layout.content
    numbers, vectors = plain_numbers(content), cartesian_columns(content)
    if numbers is None and vectors is None:
        return None
    columns = [numbers] if numbers is not None else list(vectors or ())
    names = None if numbers is not None else list(_CARTESIAN[0])
    local = ak.to_packed(ak.argcombinations(x, n, axis=1)).layout  # list offsets of records "0".."n-1"
    offsets = np.asarray(local.offsets.data)
    starts = np.asarray(layout.offsets.data)[:-1]
    first = np.repeat(starts, np.diff(offsets))  # each combination's event's first object
    rows = [first + np.asarray(local.content.content(str(i)).data) for i in range(n)]
    sums = [functools.reduce(operator.add, (c[r] for r in rows)) for c in columns]
    inner: ak.contents.Content = (ak.contents.NumpyArray(sums[0]) if names is None else
                                  ak.contents.RecordArray([ak.contents.NumpyArray(c) for c in sums], names,
                                                          parameters=content.parameters))
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), inner), behavior=x.behavior)


def _pairs(x: Any) -> ak.Array:
    return _combinations(x, 2)


def _arg(fn: Callable[..., Any]) -> Callable[[Any], ak.Array]:
    def index(x: Any) -> ak.Array:
        return fn(x, axis=-1, keepdims=True)

    return index


def _best(x: Any, key: Any) -> ak.Array:
    """The object of ``x`` with the smallest ``key`` in each event (None where there is none).

    When every event has one, the result carries no option type: every later operation on it (four-
    vector sums, masses) then skips awkward's option broadcasting, which took a third of the
    demo's feature building."""
    index = ak.argmin(key, axis=-1, keepdims=True)
    if x.ndim == 2 and not ak.any(ak.is_none(index, axis=-1)):
        return x[ak.from_regular(ak.fill_none(index, 0))][:, 0]
    return ak.firsts(x[index], axis=-1)


_CARTESIAN = (("px", "py", "pz", "E"), ("x", "y", "z", "t"))  # as _p4xyz names them, as vector's sums do


def _flat_components(v: Any) -> tuple[np.ndarray, ...] | None:
    """The (px, py, pz, E) numpy arrays of ``v`` when it holds one Cartesian four-vector per event
    with none missing (b1, wjj, the lepton...), else None.  Sums and masses of such vectors then
    cost a few numpy operations instead of awkward's broadcasting, with vector's own formulas."""
    if not isinstance(v, ak.Array) or v.ndim != 1:
        return None
    return cartesian_columns(v.layout)


def plain_numbers(layout: ak.contents.Content) -> np.ndarray | None:
    """The numpy data of a layout of plain numbers (no parameters, one dimension), else None: the
    content on which the numpy fast paths of jagged lists may work."""
    if isinstance(layout, ak.contents.NumpyArray) and not layout.parameters and layout.data.ndim == 1:
        return np.asarray(layout.data)
    return None


def cartesian_columns(layout: ak.contents.Content) -> tuple[np.ndarray, ...] | None:
    """The (px, py, pz, E) numpy arrays of a Momentum4D record layout stored in Cartesian form
    (whatever vector names them) with plain-number fields, else None."""
    if not isinstance(layout, ak.contents.RecordArray) or layout.parameter("__record__") != "Momentum4D":
        return None
    names = next((n for n in _CARTESIAN if set(n) <= set(layout.fields)), None)
    columns = [plain_numbers(layout.content(n)) for n in names] if names else []
    if not columns or any(c is None for c in columns):
        return None
    return tuple(c for c in columns if c is not None)


def _from_components(px: np.ndarray, py: np.ndarray, pz: np.ndarray, energy: np.ndarray) -> ak.Array:
    fields = [ak.contents.NumpyArray(np.asarray(c)) for c in (px, py, pz, energy)]
    return ak.Array(ak.contents.RecordArray(fields, list(_CARTESIAN[0]), parameters={"__record__": "Momentum4D"}))


def _combine(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``a + b`` or ``a - b``: component by component in numpy when both are one four-vector per
    event (:func:`_flat_components`; 0.3 ms for 100k events against awkward's 2-4 ms), else as usual."""
    def combine(a: Any, b: Any) -> Any:
        fa, fb = _flat_components(a), _flat_components(b)
        if fa is None or fb is None or len(fa[0]) != len(fb[0]):
            return op(a, b)
        return _from_components(*(op(x, y) for x, y in zip(fa, fb)))

    return combine


add, subtract = _combine(operator.add), _combine(operator.sub)


def _mass(v: Any) -> Any:
    """Invariant mass, vector's formula (negative for a spacelike vector); in numpy for flat vectors."""
    flat = _flat_components(v)
    if flat is None:
        return v.mass
    px, py, pz, energy = flat
    squared = energy**2 - (px**2 + py**2 + pz**2)
    return np.copysign(np.sqrt(np.abs(squared)), squared)


def _component(name: str) -> Callable[[Any], Any]:
    def get(v: Any) -> Any:
        return getattr(v, name)

    return get


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": np.sqrt, "log": np.log, "exp": np.exp, "abs": np.abs, "sin": np.sin,
    "cos": np.cos, "tan": np.tan, "arctan2": np.arctan2, "sinh": np.sinh, "cosh": np.cosh,
    "tanh": np.tanh, "minimum": np.minimum, "maximum": np.maximum,
    "where": ak.where,
    "min": _reduce(ak.min), "max": _reduce(ak.max), "sum": _reduce(ak.sum),
    "mean": _reduce(ak.mean), "any": _reduce(ak.any), "all": _reduce(ak.all),
    "num": _reduce(ak.num),
    "first": _first, "sort": _sort, "argsort": _argsort,
    "p4": _p4, "p4xyz": _p4xyz, "vsum": _vsum, "neutrino": _neutrino, "hash": _hash, "stack": _stack,
    "pairs": _pairs, "combinations": _combinations, "argmin": _arg(ak.argmin), "argmax": _arg(ak.argmax),
    "best": _best,
    "pt": _component("pt"), "eta": _component("eta"), "phi": _component("phi"),
    "mass": _mass, "energy": _component("E"), "rapidity": _component("rapidity"),
    "deltaR": lambda a, b: a.deltaR(b), "deltaphi": lambda a, b: a.deltaphi(b),
}
KEYWORDS: dict[str, set[str]] = {
    "first": {"fill"}, "sort": {"ascending"}, "argsort": {"ascending"}, "neutrino": {"mw"},
}

