"""Scorer: load a bundle once, then score awkward arrays, chunks or whole files.

The Scorer rebuilds the bundle's features with the bundle's own spec, picks for each event the
fold model that never trained on it (by the bundle's k-fold key, e.g. ``event``), applies the
calibration and returns numpy arrays.  Events without the fold key (real data that lacks it)
get the mean of the fold models.  It is safe to call from several threads, and pickles by
reference (it reloads from its path), so it can be shipped to dask workers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepml.bundle import load_keras_models, load_spec, read_info
from hepml.calibration import calibrator_from_dict
from hepml.errors import HepmlError, MissingBranchError, closest
from hepml.expr import parse
from hepml.io.read import Source, iterate, open_tree, resolve_sources
from hepml.io.write import DEFAULT_EVENT_ID, add_branches_in_place, write_friend
from hepml.split import fold_of

__all__ = ["Scorer", "score_files"]

_CACHE: dict[tuple[str, str], Scorer] = {}
_CACHE_LOCK = threading.Lock()


class Scorer:
    """A loaded, calibrated bundle.  Use :meth:`load` (cached per process) rather than the constructor."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import json

        self.path = str(Path(path).resolve())
        self.info = read_info(path)
        self.spec = load_spec(path)
        self.columns: list[str] = list(self.info["columns"])
        self.models = load_keras_models(path, self.info)
        self.calibrator = calibrator_from_dict(json.loads((Path(path) / "calibration.json").read_text()))
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Scorer:
        """Load a bundle once per process and reuse it."""
        key = (str(Path(path).resolve()), "keras")
        with _CACHE_LOCK:
            if key not in _CACHE:
                _CACHE[key] = cls(path)
            return _CACHE[key]

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (Scorer.load, (self.path,))

    @property
    def branches(self) -> list[str]:
        """The input branches scoring needs (without the spec's cut, which scoring does not apply)."""
        names = [b for b in self.spec.branches() if b not in self.spec.event_id]
        key = self.info["fold_key"]
        return names + [key] if key not in names else names

    def features(self, arrays: Any, *, where: str = "input") -> np.ndarray:
        table = self.spec.build(_as_array(arrays), where=where, with_ids=False)
        return table.select(self.columns).X

    def predict_raw(self, X: np.ndarray, events: np.ndarray | None) -> np.ndarray:
        """Uncalibrated network output; fold model by event number, mean of folds without one."""
        from hepml.models.dense import predict

        out = np.empty(len(X))
        with self._lock:
            if events is None:
                out[:] = np.mean([predict(m, X) for m in self.models], axis=0)
            else:
                fold = fold_of(events, self.info["k"], self.info["seed"])
                for j, model in enumerate(self.models):
                    rows = fold == j
                    if rows.any():
                        out[rows] = predict(model, X[rows])
        return out

    def __call__(self, arrays: Any, *, where: str = "input") -> dict[str, np.ndarray]:
        """Score one block of events: ``{'score': calibrated, 'score_raw': network output}``."""
        arrays = _as_array(arrays)
        fields = set(arrays.fields)
        missing = [b for b in self.branches if b not in fields and b != self.info["fold_key"]]
        if missing:
            raise MissingBranchError(
                f"{where}: bundle {self.path} needs branch {missing[0]!r}, which is missing"
                f" (closest: {closest(missing[0], fields)}); it needs: {', '.join(self.branches)}"
            )
        key = self.info["fold_key"]
        events = np.asarray(ak.to_numpy(arrays[key])) if key in fields else None
        raw = self.predict_raw(self.features(arrays, where=where), events)
        return {"score": np.clip(self.calibrator.predict(raw), 0.0, 1.0).astype(np.float32),
                "score_raw": raw.astype(np.float32)}

    score = __call__

    def iter_scores(self, source: Source, *, prefix: str = "", step_size: int | str = "100 MB",
                    event_id: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Columns for the friend tree, chunk by chunk: scores, cut flag and event identifiers."""
        tree = open_tree(source)
        available = set(tree.keys())
        ids = [b for b in (event_id if event_id is not None else (self.spec.event_id or DEFAULT_EVENT_ID)) if b in available]
        reads = list(dict.fromkeys([b for b in self.branches if b in available or b != self.info["fold_key"]] + ids))
        cut = parse(self.spec.cut, "cut") if self.spec.cut else None
        if cut:
            reads = list(dict.fromkeys(reads + sorted(cut.names - set(self.spec.defines))))
        for chunk in iterate(source, reads, step_size=step_size):
            scores = self(chunk.arrays, where=str(chunk.source))
            columns: dict[str, Any] = {f"{prefix}{k}": v for k, v in scores.items()}
            if cut is not None:
                columns[f"{prefix}pass_cut"] = np.asarray(ak.to_numpy(ak.fill_none(cut.evaluate(chunk.arrays), False)), bool)
            for name in ids:
                columns[name] = ak.to_numpy(chunk.arrays[name])
            yield columns

    def score_file(self, source: str | Source, output: str | os.PathLike[str] | None = None, *,
                   tree: str = "scores", prefix: str = "", step_size: int | str = "100 MB",
                   in_place: bool = False, event_id: Iterable[str] | None = None) -> Path | None:
        """Write the scores of one input file as a friend tree in ``output`` (or, opt-in, in place)."""
        (src,) = resolve_sources(source, self.spec.tree) if isinstance(source, str) else [source]
        if in_place:
            chunks = list(self.iter_scores(src, prefix=prefix or "hepml_", step_size=step_size, event_id=()))
            columns = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]} if chunks else {}
            add_branches_in_place(src, columns)
            return None
        if output is None:
            raise HepmlError("score_file: give an output path (or in_place=True)")
        n = int(open_tree(src).num_entries)
        empty = {f"{prefix}score": np.float32, f"{prefix}score_raw": np.float32}
        return write_friend(output, self.iter_scores(src, prefix=prefix, step_size=step_size, event_id=event_id),
                            tree=tree, expected_entries=n, empty_types=empty)


def _as_array(arrays: Any) -> ak.Array:
    """Accept an awkward array, a record, or a mapping of branch arrays (e.g. NanoEvents fields)."""
    if isinstance(arrays, ak.Array):
        return arrays
    if isinstance(arrays, Mapping):
        return ak.Array(dict(arrays))
    return ak.Array(arrays)


def score_files(bundle: str | os.PathLike[str], inputs: list[str], outputs: list[str], *, tree: str = "scores",
                prefix: str = "", step_size: int | str = "100 MB", in_place: bool = False) -> list[str]:
    """Score each input file into its own friend-tree file (same entries, same order)."""
    scorer = Scorer.load(bundle)
    if not in_place and len(inputs) != len(outputs):
        raise HepmlError(f"score: {len(inputs)} inputs but {len(outputs)} outputs; give one output per input")
    done = []
    for i, source in enumerate(inputs):
        scorer.score_file(source, None if in_place else outputs[i], tree=tree, prefix=prefix,
                          step_size=step_size, in_place=in_place)
        done.append(source)
    return done
