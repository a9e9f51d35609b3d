"""ONNX export of a bundle's fold networks, for onnxruntime and C++ frameworks.

Each fold network becomes ``BUNDLE/onnx/fold<k>.onnx`` (input ``features``: float32
[batch, n_features] of raw, unstandardised features in the order of ``columns``; output: the
uncalibrated signal probability).  ``BUNDLE/onnx/model.json`` carries what a framework needs
beside the networks: the feature columns, the k-fold rule (splitmix64 of the event number and
seed, modulo k: see :func:`hepml.split.event_hash`) and the calibration as JSON.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from hepml.bundle import INTEGRITY, digest, file_hash, load_calibrator, load_fold_models, read_info, write_json
from hepml.errors import BundleError
from hepml.io.atomic import atomic_path
from hepml.models import backend

__all__ = ["export_onnx", "ONNX_DIR", "TOLERANCE"]

ONNX_DIR = "onnx"
TOLERANCE = 1e-5


def export_onnx(bundle: str | os.PathLike[str], *, opset: int = 17, check_events: int = 4096) -> list[Path]:
    """Convert every fold network with tf2onnx and check ONNX against Keras on ``check_events``
    random inputs (spread like the training data, through the model's own standardisation)."""
    backend.configure()
    try:
        import onnxruntime as ort
        import tensorflow as tf
        import tf2onnx
    except ImportError as err:
        raise BundleError(f"ONNX export needs the 'onnx' extra (pip install 'hepml[onnx]'): {err}") from None
    folder = Path(bundle)
    info = read_info(folder)
    if info["kind"] != "keras":
        raise BundleError(f"{folder}: ONNX export converts Keras networks; a {info['model']} bundle scores with "
                          "hepml score (or the Scorer) directly")
    models = [fold.model for fold in load_fold_models(folder, info)]
    n_features = len(info["columns"])
    written = []
    with atomic_path(folder / ONNX_DIR, kind="onnx export") as tmp:
        tmp.mkdir()
        for j, model in enumerate(models):
            path = tmp / f"fold{j}.onnx"
            signature = (tf.TensorSpec((None, n_features), tf.float32, name="features"),)
            tf2onnx.convert.from_keras(model, input_signature=signature, opset=opset, output_path=str(path))
            _check(model, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]), n_features,
                   check_events, folder, j)
            written.append(folder / ONNX_DIR / path.name)
        calibration = load_calibrator(folder, info).to_dict()
        write_json(tmp / "model.json", {
            "columns": info["columns"], "k": info["k"], "seed": info["seed"], "fold_key": info["fold_key"],
            "files": [p.name for p in written], "input": "features", "calibration": calibration,
            "fold_rule": "fold = splitmix64(event + seed * 0x9E3779B97F4A7C15) mod k (hepml.split.event_hash)",
            # what Scorer(path, "onnxruntime") verifies: these files, exported from this very bundle
            "integrity": {"files": {p.name: file_hash(tmp / p.name) for p in written},
                          "bundle": digest(info[INTEGRITY])},
        })
    return written


def _check(model: Any, session: Any, n_features: int, n: int, folder: Path, fold: int) -> None:
    norm = model.get_layer("standardise")
    mean = np.asarray(norm.mean).reshape(-1)
    std = np.sqrt(np.asarray(norm.variance).reshape(-1))
    x = (np.random.default_rng(fold).normal(size=(n, n_features)) * std + mean).astype(np.float32)
    keras_out = np.asarray(model(x, training=False)).ravel()
    onnx_out = session.run(None, {session.get_inputs()[0].name: x})[0].ravel()
    diff = float(np.max(np.abs(keras_out - onnx_out)))
    if diff > TOLERANCE:
        raise BundleError(f"{folder}: fold {fold} ONNX and Keras differ by {diff:.2e} > {TOLERANCE}; not exported")
