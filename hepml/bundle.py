"""A trained model on disk: one folder with the networks, calibration, feature spec and provenance.

::

    bundle/
      bundle.json        what it is: model kind, feature columns, k-fold key and seed, provenance
      feature_spec.yaml  the spec the features were built with (scoring rebuilds them with it)
      fold0.keras ...    one model per fold, in its model's own safe format (Keras safe_mode,
                         xgboost JSON, skops with only the tree type trusted): no code runs on load
      calibration.json   the calibrator's parameters (JSON, never pickle)
      oof.root           out-of-fold scores of every training event, for evaluation
      history.json       training curves

``bundle.json`` is checked against ``hepml/schemas/bundle.v1.schema.json`` when it is written and
every time it is read, and for consistency (one network per fold, files inside the folder, columns
the spec builds, a well-formed calibration) before a single event is scored.

Integrity: ``bundle.json`` records a sha256 of every file of the bundle and of each of its own
top-level keys (``integrity``).  Reading verifies the keys; every file is verified when it is
read (:func:`bundle_file`).  So an edit made after writing (two columns swapped, fold networks
exchanged or linked to one another, ``k`` cut, the seed or the spec changed, a calibration
parameter replaced) is refused, naming the file or key, instead of scoring silently wrong.  It
guards against accidents and stale copies, not against someone who rewrites the hashes too.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import time
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from hepml.errors import BundleError, ConfigError, closest

__all__ = [
    "BUNDLE_FILE",
    "INTEGRITY",
    "FORMAT_VERSION",
    "SCHEMA",
    "read_info",
    "write_bundle",
    "write_info",
    "write_json",
    "provenance",
    "file_hash",
    "bundle_file",
    "digest",
    "load_spec",
    "load_calibrator",
    "load_keras_file",
    "load_fold_models",
]

BUNDLE_FILE = "bundle.json"
FORMAT_VERSION = 1
SCHEMA = f"schemas/bundle.v{FORMAT_VERSION}.schema.json"
INTEGRITY = "integrity"
_PACKAGES = ("hepml", "numpy", "awkward", "uproot", "vector", "tensorflow", "jax", "torch", "keras", "scikit-learn",
             "skops", "xgboost")


def file_hash(path: str | os.PathLike[str], *, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"{algorithm}:{digest.hexdigest()}"


def provenance(config: dict[str, Any], inputs: list[str], seed: int) -> dict[str, Any]:
    """What made this bundle: resolved config, seed, package versions, input file hashes."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return {
        "config": config,
        "seed": seed,
        "inputs": {str(p): file_hash(p) for p in inputs if os.path.exists(p)},
        "versions": versions,
        "python": platform.python_version(),
        # the Keras backend that trained it; the .keras files score the same on every backend
        "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True, default=float) + "\n")


def write_bundle(
    folder: str | os.PathLike[str],
    *,
    kind: str,
    model: str,
    models: list[str],
    seed: int,
    settings: dict[str, Any],
    inputs: list[str],
    spec_config: dict[str, Any] | None = None,
    calibrator: Any = None,
    history: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """The one writer of every task's bundle: ``bundle.json`` (schema-checked, with provenance) and,
    when given, ``feature_spec.yaml``, ``calibration.json`` and ``history.json``.  The networks
    named in ``models`` must already be in ``folder``."""
    folder = Path(folder)
    info: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "kind": kind,
        "model": model,
        "models": list(models),
        "seed": seed,
        **fields,
    }
    if calibrator is not None:
        info["calibration"] = calibrator.method
        write_json(folder / "calibration.json", calibrator.to_dict())
    if spec_config is not None:
        (folder / "feature_spec.yaml").write_text(yaml.safe_dump(spec_config, sort_keys=False))
    if history is not None:
        write_json(folder / "history.json", history)
    info["provenance"] = provenance(settings, inputs, seed)
    write_info(folder, info)
    return info


def write_info(folder: str | os.PathLike[str], info: dict[str, Any]) -> None:
    """Write ``bundle.json`` with its integrity record (the hash of every file in ``folder`` and of
    each key), checked against the schema first: no task can write a bundle that
    :func:`read_info` would refuse."""
    folder = Path(folder)
    info = json.loads(json.dumps({k: v for k, v in info.items() if k != INTEGRITY}, default=float))
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != BUNDLE_FILE
                   and not p.name.startswith("."))
    info[INTEGRITY] = {"files": {name: file_hash(folder / name) for name in files}, "keys": fields_digest(info)}
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(_schema()).iter_errors(info))
    if error is not None:
        raise BundleError(f"{folder}: cannot write {BUNDLE_FILE}, key '{_key_of(error)}': {_short(error.message)}")
    write_json(folder / BUNDLE_FILE, info)


def digest(value: Any) -> str:
    """sha256 of a JSON value's canonical form (sorted keys, no spaces)."""
    return "sha256:" + hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def fields_digest(info: dict[str, Any]) -> dict[str, str]:
    """:func:`digest` of each top-level key, the integrity record's own left out: an edit names the
    key it changed."""
    return {key: digest(value) for key, value in info.items() if key != INTEGRITY}


def _check_fields(meta: Path, info: dict[str, Any]) -> None:
    recorded = info.get(INTEGRITY, {}).get("keys", {})
    actual = fields_digest(info)
    changed = sorted(k for k in set(recorded) | set(actual) if recorded.get(k) != actual.get(k))
    if changed:
        key = changed[0]
        how = "was added" if key not in recorded else "was removed" if key not in actual else "was changed"
        raise BundleError(f"{meta}: key {key!r} {how} after the bundle was written (it no longer matches the "
                          "integrity record); the bundle would score wrongly, retrain it or copy it again")


def bundle_file(path: str | os.PathLike[str], info: dict[str, Any], name: str) -> Path:
    """The bundle's file ``name``, after checking that its content is what the bundle recorded
    when it was written (a network exchanged, linked or edited since is refused)."""
    file = Path(path) / name
    recorded = info.get(INTEGRITY, {}).get("files", {}).get(name)
    if not file.is_file():
        raise BundleError(f"{file}: missing; the bundle is incomplete, retrain it or copy it again")
    if recorded is None:
        raise BundleError(f"{file}: not in {BUNDLE_FILE}'s integrity record, so it is not the file this bundle "
                          "was written with; retrain the bundle or copy it again")
    if file_hash(file) != recorded:
        raise BundleError(f"{file}: its content differs from the sha256 {BUNDLE_FILE} recorded (edited, exchanged "
                          "or damaged since the bundle was written); retrain the bundle or copy it again")
    return file


def _schema() -> dict[str, Any]:
    return json.loads(resources.files("hepml").joinpath(SCHEMA).read_text())


def _key_of(error: Any) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def read_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The bundle's description, checked against the bundle schema and for consistency (every fold
    has its network, file names stay inside the folder) before anything else of it is read."""
    folder = Path(path)
    meta = folder / BUNDLE_FILE
    if not folder.is_dir():
        raise BundleError(f"{folder}: no such bundle folder; train one with 'hepml train'")
    if not meta.is_file():
        raise BundleError(f"{folder}: not a hepml bundle (no {BUNDLE_FILE}); train one with 'hepml train'")
    try:
        info = json.loads(meta.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(
            f"{meta}: corrupt bundle description ({_short(err)}); retrain or copy the bundle again"
        ) from None
    except RecursionError:
        raise BundleError(f"{meta}: corrupt bundle description (nested too deeply to be a bundle); retrain or "
                          "copy the bundle again") from None
    if not isinstance(info, dict):
        raise BundleError(f"{meta}: corrupt bundle description (not a JSON object); retrain")
    if INTEGRITY not in info and info.get("format") == FORMAT_VERSION:
        raise BundleError(f"{meta}: no integrity record (key {INTEGRITY!r}): written by an older hepml, or edited; "
                          "this hepml cannot verify it, retrain the bundle")
    if info.get("format") != FORMAT_VERSION:
        raise BundleError(f"{meta}: key 'format' is {info.get('format')!r}, this hepml reads format {FORMAT_VERSION}")
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(_schema()).iter_errors(info))
    if error is not None:
        raise BundleError(
            f"{meta}: key '{_key_of(error)}': {_short(error.message)} (schema {SCHEMA}); "
            "the bundle is damaged or was edited, retrain it"
        )
    _check_consistency(folder, meta, info)
    _check_fields(meta, info)
    return info


def _check_consistency(folder: Path, meta: Path, info: dict[str, Any]) -> None:
    models = info["models"]
    if (info["kind"] == "keras" or (info["kind"] == "baseline" and models)) and len(models) != info["k"]:
        raise BundleError(
            f"{meta}: key 'k' is {info['k']} but key 'models' lists {len(models)} network(s); every "
            "fold needs its own network, or events would be scored by none (retrain the bundle)"
        )
    if len(set(models)) != len(models):
        raise BundleError(f"{meta}: key 'models' names a file twice; each fold needs its own network (retrain)")
    root = folder.resolve()
    for i, name in enumerate(models):
        target = (folder / name).resolve()
        if root not in target.parents:
            raise BundleError(
                f"{meta}: key 'models.{i}' ({name}) points outside the bundle folder ({target}); "
                "a bundle only reads its own files"
            )


def load_spec(path: str | os.PathLike[str], info: dict[str, Any]) -> Any:
    """The bundle's feature spec (verified); the columns of ``bundle.json`` must be among its columns."""
    from hepml.features import FeatureSpec

    spec_file = bundle_file(path, info, "feature_spec.yaml")
    try:
        spec = FeatureSpec.from_yaml(spec_file)
    except ConfigError as err:
        raise BundleError(f"{err} (the bundle's own spec: retrain or copy the bundle again)") from None
    missing = [c for c in info.get("columns", []) if c not in spec.columns]
    if missing:
        raise BundleError(
            f"{Path(path) / BUNDLE_FILE}: key 'columns' names {missing[0]!r}, which {spec_file.name} does "
            f"not build (closest: {closest(missing[0], spec.columns)}); the bundle's files do not belong "
            "together, retrain it"
        )
    return spec


def load_calibrator(path: str | os.PathLike[str], info: dict[str, Any]) -> Any:
    """The calibrator of ``calibration.json``, with finite, well-formed parameters."""
    from hepml.calibration import calibrator_from_dict

    file = bundle_file(path, info, "calibration.json")
    try:
        data = json.loads(file.read_text())
        calibrator = calibrator_from_dict(data)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise BundleError(f"{file}: {_short(err)}; the calibration is damaged, recalibrate or retrain") from None
    if data.get("method") != info.get("calibration", data.get("method")):
        raise BundleError(
            f"{file}: key 'method' is {data.get('method')!r} but {BUNDLE_FILE} says calibration "
            f"{info.get('calibration')!r}; the bundle's files do not belong together, retrain it"
        )
    return calibrator


def load_keras_file(path: str | os.PathLike[str], name: str, info: dict[str, Any]) -> Any:
    """One network, loaded with Keras ``safe_mode`` (a model file never executes code) after its
    content is verified; a damaged file is reported as such, not as Keras' "file not found"."""
    from hepml.models import backend

    backend.configure()
    import keras

    file = bundle_file(path, info, name)
    try:
        return keras.saving.load_model(file, safe_mode=True, compile=False)
    except Exception as err:  # Keras reports a damaged zip as "File not found"
        raise BundleError(
            f"{file}: corrupt Keras model, it cannot be loaded ({_short(err)}); retrain or copy the bundle again"
        ) from None


_FORMATS = {".keras": "Keras", ".skops": "scikit-learn (skops)", ".json": "xgboost"}


def load_fold_models(path: str | os.PathLike[str], info: dict[str, Any]) -> list[Any]:
    """The fold models (:class:`hepml.models.registry.Predictor`), in fold order, each verified and
    then read by its model's loader from the registry: dnn, bdt and xgb bundles score alike."""
    from hepml.models.registry import get_model, load_loader

    if info.get("kind") not in ("keras", "baseline"):
        raise BundleError(f"{path}: a {info.get('kind')} bundle has no fold models that score events; "
                          "'hepml score-pixels' scores images")
    try:  # every Keras bundle (the Higgs dnn, the DANN study's dnn-dann) holds .keras networks
        entry = get_model("dnn" if info["kind"] == "keras" else info["model"])
    except ConfigError as err:
        raise BundleError(f"{Path(path) / BUNDLE_FILE}: key 'model': {err}; this hepml cannot score it") from None
    if not info["models"]:
        raise BundleError(f"{path}: this {info['model']} bundle holds no fold models (an older hepml kept only the "
                          "out-of-fold scores of baselines); retrain it to score or write back with it")
    load = load_loader(entry.name)
    models = []
    for name in info["models"]:
        file = bundle_file(path, info, name)
        if not name.endswith(entry.suffix):
            raise BundleError(f"{file}: a {entry.name} fold model is a {entry.suffix} file; the bundle's files do not "
                              "belong together, retrain it")
        try:
            models.append(load(file))
        except BundleError:
            raise
        except Exception as err:  # Keras reports a damaged zip as "File not found"
            raise BundleError(f"{file}: corrupt {_FORMATS.get(entry.suffix, entry.name)} model, it cannot be loaded "
                              f"({_short(err)}); retrain or copy the bundle again") from None
    return models


def _short(err: BaseException | str) -> str:
    return " ".join(str(err).split())[:200]
