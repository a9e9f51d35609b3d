"""A trained model on disk: one folder with the networks, calibration, feature spec and provenance.

::

    bundle/
      bundle.json        what it is: model kind, feature columns, k-fold key and seed, provenance
      feature_spec.yaml  the spec the features were built with (scoring rebuilds them with it)
      fold0.keras ...    one network per fold (loaded with safe_mode: no code runs on load)
      calibration.json   the calibrator's parameters (JSON, never pickle)
      oof.root           out-of-fold scores of every training event, for evaluation
      history.json       training curves

Baseline BDT bundles hold ``oof.root`` and their numbers for comparison but no loadable model.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import yaml

from hepml.errors import BundleError

__all__ = ["BUNDLE_FILE", "read_info", "write_json", "provenance", "file_hash", "load_spec", "load_keras_models"]

BUNDLE_FILE = "bundle.json"
FORMAT_VERSION = 1
_PACKAGES = ("hepml", "numpy", "awkward", "uproot", "vector", "tensorflow", "keras", "scikit-learn", "xgboost")


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
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True, default=float) + "\n")


def read_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The bundle's description, checked: a clear error for a folder that is not a bundle."""
    folder = Path(path)
    meta = folder / BUNDLE_FILE
    if not folder.is_dir():
        raise BundleError(f"{folder}: no such bundle folder; train one with 'hepml train'")
    if not meta.is_file():
        raise BundleError(f"{folder}: not a hepml bundle (no {BUNDLE_FILE}); train one with 'hepml train'")
    try:
        info = json.loads(meta.read_text())
    except json.JSONDecodeError as err:
        raise BundleError(f"{meta}: corrupt bundle description ({err.msg} at line {err.lineno}); retrain") from None
    if info.get("format") != FORMAT_VERSION:
        raise BundleError(f"{meta}: bundle format {info.get('format')!r}, this hepml reads {FORMAT_VERSION}")
    return info


def load_spec(path: str | os.PathLike[str]) -> Any:
    from hepml.features import FeatureSpec

    spec_file = Path(path) / "feature_spec.yaml"
    with open(spec_file) as handle:
        return FeatureSpec(yaml.safe_load(handle), origin=str(spec_file))


def load_keras_models(path: str | os.PathLike[str], info: dict[str, Any]) -> list[Any]:
    """The fold networks, loaded with Keras ``safe_mode`` so a model file never executes code."""
    if info.get("kind") != "keras":
        raise BundleError(f"{path}: a {info.get('model')} baseline bundle holds out-of-fold scores only, "
                          "not a model to score with; use a dnn bundle")
    import keras

    models = []
    for name in info["models"]:
        file = Path(path) / name
        if not file.is_file():
            raise BundleError(f"{path}: missing {name}; the bundle is incomplete, retrain it")
        models.append(keras.saving.load_model(file, safe_mode=True, compile=False))
    return models
