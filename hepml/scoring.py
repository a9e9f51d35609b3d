"""Scorer: load a bundle once, then score awkward arrays, chunks or whole files.

The Scorer rebuilds the bundle's features with the bundle's own spec, picks for each event the
fold model that never trained on it (by the spec's fold key, e.g. ``event``), applies the
calibration and returns numpy arrays.  Events without the fold key are refused unless the caller
says they are independent data (never used in training): then the fold models are averaged.  It
is safe to call from several threads, and pickles by reference (it reloads from its path), so it
can be shipped to dask workers.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepml.bundle import (
    INTEGRITY,
    bundle_file,
    digest,
    file_hash,
    load_calibrator,
    load_fold_models,
    load_spec,
    read_info,
)
from hepml.errors import BundleError, ConfigError, MissingBranchError, closest
from hepml.expr import parse
from hepml.features.fingerprint import Fingerprint, LeakWarning, judge_leaks
from hepml.io.inplace import add_branches_in_place
from hepml.io.outputs import check_outputs
from hepml.io.read import Source, event_mask, file_uuid, iterate, open_tree, resolve_sources
from hepml.io.write import DEFAULT_EVENT_ID, write_friend
from hepml.split import fold_of

__all__ = ["Scorer", "score_files", "dask_scores", "LeakWarning"]

_CACHE: dict[tuple[str, str], Scorer] = {}
_CACHE_LOCK = threading.Lock()


class Scorer:
    """A loaded, calibrated bundle.  Use :meth:`load` (cached per process) rather than the constructor."""

    def __init__(self, path: str | os.PathLike[str], backend: str = "keras") -> None:
        if backend not in ("keras", "onnxruntime"):
            raise ConfigError(f"unknown Scorer backend {backend!r}; choose keras or onnxruntime")
        self.path = str(Path(path).resolve())
        self.backend = backend
        # every part is checked before a network is loaded: a bundle that could score wrongly never scores
        self.info = read_info(path)
        self.spec = load_spec(path, self.info)
        if self.info["fold_key"] != self.spec.fold_key.text and self.info["k"] > 1:
            raise BundleError(f"{Path(path) / 'bundle.json'}: fold_key {self.info['fold_key']!r} differs from its "
                              f"spec's {self.spec.fold_key.text!r}; the bundle's files do not belong together, retrain")
        self.columns: list[str] = list(self.info["columns"])
        self.calibrator = load_calibrator(path, self.info)
        self.models = (  # Predictors: whatever the model, scoring below is the same
            load_fold_models(path, self.info) if backend == "keras" else _onnx_sessions(Path(path), self.info)
        )
        record = self.info.get("fingerprint", {})
        self.fingerprint = Fingerprint.load(bundle_file(path, self.info, record["file"])) if "file" in record else None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | os.PathLike[str], backend: str = "keras") -> Scorer:
        """Load a bundle once per process (per backend) and reuse it."""
        key = (str(Path(path).resolve()), backend)
        with _CACHE_LOCK:
            if key not in _CACHE:
                _CACHE[key] = cls(path, backend)
            return _CACHE[key]

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (_load, (self.path, self.backend))

    @property
    def branches(self) -> list[str]:
        """The input branches scoring reads: the features' and the fold key's (not the cut's: events
        failing it are scored and flagged; not the weight's: data have no generator weights)."""
        names = self.spec.feature_branches()
        return names + [b for b in self.spec.fold_key_branches() if b not in names]

    def features(self, arrays: Any, *, where: str = "input", entries: np.ndarray | None = None) -> np.ndarray:
        table = self.spec.build(_as_array(arrays), where=where, entries=entries, features_only=True)
        return table.select(self.columns).X

    def fold_keys(self, arrays: ak.Array, *, where: str, entries: np.ndarray | None, file: str | None
                  ) -> np.ndarray | None:
        """Each event's fold key, or None when these events do not carry it."""
        if any(b not in arrays.fields for b in self.spec.fold_key_branches()) or (
                self.spec.fold_key.expr is None and (entries is None or file is None)):
            return None
        return self.spec.fold_keys(arrays, where=where, entries=entries, file=file)

    def predict_raw(self, X: np.ndarray, events: np.ndarray | None) -> np.ndarray:
        """Uncalibrated model output: the fold model of each event's fold key, or the mean of
        the fold models when ``events`` is None (independent data)."""
        out = np.full(len(X), np.nan)
        with self._lock:
            if events is None or len(self.models) == 1:  # no event number, or one model for all
                out[:] = np.mean([m.predict(X) for m in self.models], axis=0)
            else:
                fold = fold_of(events, len(self.models), self.info["seed"])
                for j, model in enumerate(self.models):
                    rows = fold == j
                    if rows.any():
                        out[rows] = model.predict(X[rows])
        bad = ~np.isfinite(out)
        if bad.any():  # never write a score that no network produced
            raise BundleError(
                f"{self.path}: {int(bad.sum())} of {len(out)} events got no finite score from the "
                "bundle's networks; the bundle is damaged, retrain it"
            )
        return out

    def __call__(self, arrays: Any, *, where: str = "input", entries: np.ndarray | None = None,
                 file: str | None = None, independent: bool = False, leaks: str = "refuse") -> dict[str, np.ndarray]:
        """Score one block of events: ``{'score': calibrated, 'score_raw': network output}``.

        Each event is scored by the fold network that never trained on it, found from the fold key;
        events without the fold key are refused, unless ``independent=True`` says they were never
        used in training (real data): then the fold networks are averaged.  Either way, events the
        bundle trained on are recognised by content (:mod:`hepml.features.fingerprint`): scoring them
        with a network that saw them is refused, or with ``leaks="report"`` only warned about.
        ``entries`` (their entry numbers in ``file``) make error messages point at the right event
        and serve ``fold_key: entry``."""
        scores, found = self._score(arrays, where=where, entries=entries, file=file, independent=independent)
        self.judge_leaks(found, len(scores["score"]), where=where, independent=independent, leaks=leaks)
        return scores

    def _score(self, arrays: Any, *, where: str, entries: np.ndarray | None, file: str | None,
               independent: bool) -> tuple[dict[str, np.ndarray], int]:
        """The scores of one block, and how many of its events are training events scored by a
        network that saw them (0 without a fingerprint)."""
        arrays = _flatten_collections(_as_array(arrays), self.branches)
        fields = set(arrays.fields)
        missing = [b for b in self.spec.feature_branches() if b not in fields]
        if missing:
            raise MissingBranchError(
                f"{where}: bundle {self.path} needs branch {missing[0]!r}, which is missing"
                f" (closest: {closest(missing[0], fields)}); it needs: {', '.join(self.branches)}"
            )
        events = None if independent else self.fold_keys(arrays, where=where, entries=entries, file=file)
        if events is None and not independent and len(self.models) > 1:
            raise ConfigError(
                f"{where}: no fold key ({self.spec.fold_key.text!r}) in these events, so hepml cannot score each one "
                "with the fold network that never trained on it (averaging the folds would score training events "
                "with networks that saw them); if these events were never used in training, say so: independent=True"
                " (hepml score --independent)"
            )
        X = self.features(arrays, where=where, entries=entries)
        raw = self.predict_raw(X, events)
        folds = None if events is None or len(self.models) == 1 else fold_of(events, len(self.models),
                                                                               self.info["seed"])
        found = self.fingerprint.leaks(X, folds) if self.fingerprint is not None else 0
        return {
            "score": np.clip(self.calibrator.predict(raw), 0.0, 1.0).astype(np.float32),
            "score_raw": raw.astype(np.float32),
        }, found

    def judge_leaks(self, found: int, scored: int, *, where: str, independent: bool, leaks: str) -> None:
        """Refuse (``leaks="refuse"``) or warn about (``"report"``) more training events among
        ``scored`` than chance matches explain (:func:`~hepml.features.fingerprint.judge_leaks`)."""
        if self.fingerprint is not None:
            judge_leaks(self.fingerprint, found, scored, where=f"{where}: bundle {self.path}",
                        independent=independent, leaks=leaks)

    def iter_scores(self, source: Source, *, prefix: str = "", step_size: int | str = "100 MB",
                    event_id: Iterable[str] | None = None, independent: bool = False,
                    fail_score: float = float("nan"), leaks: str = "refuse") -> Iterator[dict[str, Any]]:
        """Columns for the friend tree, chunk by chunk: scores, cut flag and event identifiers.

        Events failing the spec's cut get ``fail_score`` (NaN by default: no number computed from
        fill values can be mistaken for a score; ``x > 0.8`` is false for NaN) and ``pass_cut`` False."""
        available = set(open_tree(source).keys())
        ids = [b for b in (event_id if event_id is not None else (self.spec.event_id or DEFAULT_EVENT_ID))
               if b in available]
        keys = set(self.spec.fold_key_branches()) - set(self.spec.feature_branches())
        reads = list(dict.fromkeys([b for b in self.branches if b in available or b not in keys] + ids))
        cut = parse(self.spec.cut, "cut") if self.spec.cut else None
        if cut:
            reads = list(dict.fromkeys(reads + sorted(cut.names - set(self.spec.defines))))
        found = scored = 0
        for chunk in iterate(source, reads, step_size=step_size):
            n = len(chunk.arrays)
            passed = np.ones(n, bool) if cut is None else event_mask(cut.evaluate(chunk.arrays), n, cut.text,
                                                                       str(chunk.source))
            # only what feature building computed (the events passing the cut) is computed here: an
            # event failing the cut cannot stop scoring after the training succeeded on the others
            scores = {k: np.full(n, np.float32(fail_score)) for k in ("score", "score_raw")}
            if passed.any():
                arrays = chunk.arrays if passed.all() else chunk.arrays[passed]
                values, leaked = self._score(arrays, where=str(chunk.source), entries=chunk.entries[passed],
                                             file=chunk.source.path, independent=independent)
                found, scored = found + leaked, scored + int(passed.sum())
                if leaks == "refuse":  # as soon as the file's count says so: its output is never finished
                    self.judge_leaks(found, scored, where=str(source), independent=independent, leaks=leaks)
                for key, value in values.items():
                    scores[key][passed] = value
            if cut is not None:
                scores["pass_cut"] = passed
            columns: dict[str, Any] = {f"{prefix}{k}": v for k, v in scores.items()}
            for name in ids:
                columns[name] = ak.to_numpy(chunk.arrays[name])
            yield columns
        if leaks != "refuse":
            self.judge_leaks(found, scored, where=str(source), independent=independent, leaks=leaks)

    def score_file(self, source: str | Source, output: str | os.PathLike[str] | None = None, *,
                   tree: str = "scores", prefix: str = "", step_size: int | str = "100 MB", in_place: bool = False,
                   event_id: Iterable[str] | None = None, independent: bool = False,
                   fail_score: float = float("nan"), leaks: str = "refuse") -> Path | None:
        """Write the scores of one input file as a friend tree in ``output`` (or, opt-in, in place)."""
        (src,) = resolve_sources(source, self.spec.tree) if isinstance(source, str) else [source]
        if independent:
            self._check_independent(src)
        options: dict[str, Any] = {"step_size": step_size, "independent": independent, "fail_score": fail_score,
                                   "leaks": leaks}
        if in_place:  # the whole file's scores in memory: add_branches writes each branch in one go
            prefix = prefix or "hepml_"
            chunks = list(self.iter_scores(src, prefix=prefix, event_id=(), **options))
            names = chunks[0] if chunks else self._empty_columns(src, prefix)
            add_branches_in_place(src, {k: np.concatenate([c[k] for c in chunks]) if chunks else names[k]
                                        for k in names})
            return None
        if output is None:
            raise ConfigError("score_file: give an output path (or in_place=True)")
        n = int(open_tree(src).num_entries)
        empty = {k: v.dtype for k, v in self._empty_columns(src, prefix).items()}
        return write_friend(output, self.iter_scores(src, prefix=prefix, event_id=event_id, **options),
                            tree=tree, expected_entries=n, empty_types=empty,
                            progress=f"scoring {Path(src.path).name}")

    def _check_independent(self, source: Source) -> None:
        """Data mode averages the fold networks: refuse a file the bundle trained on (every fold
        network but one saw its events)."""
        trained = self.info.get("training_data", {})
        if not source.remote and file_uuid(source) in trained:
            raise ConfigError(f"{source.path}: this bundle was trained on this file ({trained[file_uuid(source)]}), "
                              "so it is not independent data; score it without --independent (each event then gets "
                              "the fold network that never saw it)")

    def _empty_columns(self, source: Source, prefix: str) -> dict[str, np.ndarray]:
        """The score branches of an empty tree, typed as a filled one would have them."""
        columns = {f"{prefix}score": np.zeros(0, np.float32), f"{prefix}score_raw": np.zeros(0, np.float32)}
        if self.spec.cut:
            columns[f"{prefix}pass_cut"] = np.zeros(0, bool)
        return columns


def _load(path: str, backend: str) -> Scorer:
    """Module-level, so pickle and cloudpickle both refer to it by name (a bound classmethod
    would make cloudpickle copy the function with its globals, the process cache included)."""
    return Scorer.load(path, backend)


class _OnnxFold:
    """One exported fold network, run by onnxruntime (a :class:`hepml.models.registry.Predictor`)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.input = session.get_inputs()[0].name

    def predict(self, x: np.ndarray) -> np.ndarray:
        out = self.session.run(None, {self.input: np.ascontiguousarray(x, dtype=np.float32)})[0]
        return np.asarray(out).ravel().astype(np.float64)


def _onnx_sessions(path: Path, info: dict[str, Any]) -> list[_OnnxFold]:
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError("the onnxruntime backend needs the 'onnx' extra: pip install 'hepml[onnx]'") from None
    files = [path / "onnx" / f"fold{j}.onnx" for j in range(info["k"])]
    missing = [f for f in files if not f.is_file()]
    if info.get("kind") == "keras" and missing:
        raise BundleError(f"{path}: no ONNX export ({missing[0].name} missing); run 'hepml export-onnx {path}' first")
    if missing:
        raise BundleError(f"{path}: a {info.get('model')} bundle has no ONNX export; score it with the default "
                          "backend (hepml score without --backend)")
    _check_onnx_export(path, info, files)
    options = ort.SessionOptions()
    return [_OnnxFold(ort.InferenceSession(str(f), options, providers=["CPUExecutionProvider"])) for f in files]


def _check_onnx_export(path: Path, info: dict[str, Any], files: list[Path]) -> None:
    """The export belongs to this bundle as it is now, and its files are the ones exported."""
    meta = path / "onnx" / "model.json"
    try:
        record = json.loads(meta.read_text())["integrity"]
    except (OSError, ValueError, KeyError, TypeError):
        raise BundleError(f"{meta}: missing or without an integrity record; export again: hepml export-onnx "
                          f"{path}") from None
    if record.get("bundle") != digest(info[INTEGRITY]):
        raise BundleError(f"{meta}: exported from another version of this bundle; export again: hepml export-onnx "
                          f"{path}")
    for file in files:
        if record.get("files", {}).get(file.name) != file_hash(file):
            raise BundleError(f"{file}: its content differs from the sha256 {meta.name} recorded (edited or "
                              f"exchanged since the export); export again: hepml export-onnx {path}")


def _flatten_collections(arrays: ak.Array, branches: Iterable[str]) -> ak.Array:
    """Accept NanoEvents-style nested collections: ``events.Jet.pt`` serves branch ``Jet_pt`` and
    ``num(events.Jet)`` serves ``nJet``, so a coffea processor can pass its events as they are."""
    fields = set(arrays.fields)
    extra: dict[str, Any] = {}
    for name in branches:
        if name in fields:
            continue
        collection, _, sub = name.partition("_")
        if sub and collection in fields and sub in (arrays[collection].fields or []):
            extra[name] = arrays[collection][sub]
        elif name.startswith("n") and name[1:] in fields and arrays[name[1:]].ndim > 1:
            extra[name] = ak.num(arrays[name[1:]], axis=1)
    if not extra:
        return arrays
    return ak.zip({**{f: arrays[f] for f in fields if f in set(branches)}, **extra}, depth_limit=1)


def dask_scores(scorer: Scorer, array: Any, *, independent: bool = False, leaks: str = "refuse") -> Any:
    """Score a ``dask_awkward`` array partition by partition: a lazy array of records
    ``{score, score_raw}``.  The Scorer pickles by reference, so workers load the bundle once each."""
    import dask_awkward as dak

    return dak.map_partitions(_PartitionScorer(scorer, independent, leaks), array, meta=_score_meta(),
                              label="hepml-score")


def _score_meta() -> ak.Array:
    empty = ak.Array({"score": np.zeros(0, np.float32), "score_raw": np.zeros(0, np.float32)})
    return ak.Array(empty.layout.to_typetracer(forget_length=True))


class _PartitionScorer:
    """A picklable callable for ``map_partitions``: one partition in, a record array out.

    On dask-awkward's typetracer pass (no data) it only touches the branches it reads, so the
    column optimisation reads exactly those from the files.
    """

    def __init__(self, scorer: Scorer, independent: bool = False, leaks: str = "refuse") -> None:
        self.scorer = scorer
        self.independent = independent
        self.leaks = leaks

    def __call__(self, partition: ak.Array) -> ak.Array:
        if ak.backend(partition) == "typetracer":
            for name in self.scorer.branches:
                if name in partition.fields:
                    ak.typetracer.touch_data(partition[name])
            return _score_meta()
        return ak.Array(self.scorer(partition, independent=self.independent, leaks=self.leaks))


def _as_array(arrays: Any) -> ak.Array:
    """Accept an awkward array, a record, or a mapping of branch arrays (e.g. NanoEvents fields)."""
    if isinstance(arrays, ak.Array):
        return arrays
    if isinstance(arrays, Mapping):
        return ak.Array(dict(arrays))
    return ak.Array(arrays)


def score_files(bundle: str | os.PathLike[str], inputs: list[str], outputs: list[str], *, tree: str = "scores",
                prefix: str = "", step_size: int | str = "100 MB", in_place: bool = False, backend: str = "keras",
                independent: bool = False, fail_score: float = float("nan"), leaks: str = "refuse") -> list[str]:
    """Score each input file into its own friend-tree file (same entries, same order)."""
    if in_place and outputs:
        raise ConfigError("score: --in-place writes into the inputs themselves, --out to new files; give one of them")
    if not in_place:
        if len(inputs) != len(outputs):
            raise ConfigError(f"score: {len(inputs)} inputs but {len(outputs)} outputs; give one output per input")
        check_outputs(inputs, outputs)
    scorer = Scorer.load(bundle, backend)
    done = []
    for i, source in enumerate(inputs):
        scorer.score_file(source, None if in_place else outputs[i], tree=tree, prefix=prefix, step_size=step_size,
                          in_place=in_place, independent=independent, fail_score=fail_score, leaks=leaks)
        done.append(source)
    return done
