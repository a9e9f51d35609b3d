"""Every task on the other Keras backends (JAX and PyTorch, on the CPU), and bundles that score the
same across backends.

The tasks run in one subprocess per backend (this file run as a script, with ``KERAS_BACKEND`` set):
the gradient reversal's backward pass, Higgs k-fold training (through the symmetries' layer) and
scoring, both DANN studies (the LArTPC one trains the UResNet without a target, source-only and
oracle, and with one, DANN), per-pixel scoring.  The test process, on TensorFlow, then scores each
backend's bundle and compares.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve()
SPEC = HERE.parents[1] / "workflows" / "config" / "higgs_features.yaml"
TINY_DNN = '{"epochs": 2, "units": 16, "layers": 1}'
AUGMENTED_DNN = '{"epochs": 2, "units": 16, "layers": 1, "augment": true}'  # the symmetries' layer in the step
TINY_URESNET = '{"depth": 2, "filters": 4, "epochs": 1, "batch_size": 4}'


def reversed_gradient(x: np.ndarray, upstream: np.ndarray, lambda_: float) -> tuple[np.ndarray, np.ndarray]:
    """The reversal layer's output and the gradient of ``sum(output * upstream)`` with respect to its
    input, by this process's backend's own autodiff."""
    import keras

    from hepml.models.dann import GradientReversal

    layer = GradientReversal(lambda_)
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        y = layer(x)
        grad = jax.grad(lambda v: (layer(v) * upstream).sum())(x)
    elif backend == "torch":
        import torch

        v = torch.tensor(x, requires_grad=True)
        out = layer(v)
        (out * torch.tensor(upstream)).sum().backward()
        y, grad = out, v.grad
    else:
        raise SystemExit(f"no autodiff check for the {backend} backend here (tests/test_dann.py has TensorFlow's)")
    return keras.ops.convert_to_numpy(y), keras.ops.convert_to_numpy(grad)


def run_every_task(folder: Path) -> None:
    """The CLI verbs of every task, on the backend of this process (``KERAS_BACKEND``)."""
    from hepml.cli import main

    rng = np.random.default_rng(0)
    x, upstream = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(5, 3)).astype(np.float32)
    y, grad = reversed_gradient(x, upstream, 0.7)
    (folder / "reversal.json").write_text(json.dumps({"x": x.tolist(), "upstream": upstream.tolist(),
                                                       "y": y.tolist(), "grad": grad.tolist()}))

    def hepml(*args: str) -> None:
        assert main([*args]) == 0, args

    for process, label, first in (("signal", "1", "0"), ("background", "0", "1000000000")):
        hepml("simulate", process, "--events", "1500", "--seed", "3", "--first-event", first,
              "--out", str(folder / f"{process}.root"))
        hepml("features", f"{folder / process}.root:Events", "--spec", str(SPEC), "--label", label,
              "--out", str(folder / f"f_{process}.root"))
    features = [str(folder / "f_signal.root"), str(folder / "f_background.root")]
    hepml("train", *features, "--spec", str(SPEC), "--model-config", AUGMENTED_DNN, "--out", str(folder / "dnn"))
    hepml("score", str(folder / "dnn"), f"{folder / 'signal.root'}:Events", "--out", str(folder / "scores.root"))
    hepml("dann-higgs", "--source", *features, "--target", *features, "--spec", str(SPEC), "--group", "all",
          "--dnn-config", TINY_DNN, "--out", str(folder / "dann_higgs"))
    for name, seed, first in (("sim", "4", "0"), ("data", "5", "100000"), ("sim_test", "6", "200000"),
                              ("data_test", "7", "300000")):
        hepml("simulate", "lartpc", "--events", "24", "--seed", seed, "--first-event", first,
              "--geometry", '{"wires": 32, "ticks": 32}', "--out", str(folder / f"{name}.root"))
    # the LArTPC study trains the UResNet without a target (source-only, oracle) and with one (DANN)
    images = ["--shape", "3,32,32", "--model-config", TINY_URESNET]
    hepml("dann-lartpc", "--source-train", str(folder / "sim.root"), "--source-test", str(folder / "sim_test.root"),
          "--target-train", str(folder / "data.root"), "--target-test", str(folder / "data_test.root"),
          *images, "--out", str(folder / "dann_lartpc"))
    hepml("score-pixels", str(folder / "dann_lartpc" / "bundle"), str(folder / "sim_test.root"),
          "--out", str(folder / "pixels.root"))


@pytest.fixture(scope="module", params=["jax", "torch"])
def backend_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    backend = request.param
    pytest.importorskip(backend)
    folder = tmp_path_factory.mktemp(backend)
    env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([sys.executable, str(HERE), str(folder)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return backend, folder


def test_the_gradient_reversal_reverses_on_every_backend(backend_run: tuple[str, Path]) -> None:
    """Forward the identity, backward -lambda times the incoming gradient, by JAX's and PyTorch's
    own autodiff (TensorFlow's: tests/test_dann.py)."""
    saved = json.loads((backend_run[1] / "reversal.json").read_text())
    check = {key: np.asarray(value) for key, value in saved.items()}
    np.testing.assert_array_equal(check["y"], check["x"])
    np.testing.assert_allclose(check["grad"], -0.7 * check["upstream"], rtol=1e-6)


def test_every_task_runs_on_every_backend(backend_run: tuple[str, Path]) -> None:
    import uproot

    backend, run = backend_run
    info = json.loads((run / "dnn" / "bundle.json").read_text())
    assert info["provenance"]["keras_backend"] == backend
    assert info["provenance"]["config"]["trained_with"]["augment"] is True
    scores = uproot.open(run / "scores.root")["scores"].arrays(library="np")
    passed = scores["pass_cut"]
    assert passed.sum() > 1000 and np.all((scores["score"][passed] >= 0) & (scores["score"][passed] <= 1))
    for study in ("dann_higgs", "dann_lartpc"):
        metrics = json.loads((run / study / "metrics.json").read_text())
        assert 0 <= metrics["target"]["dann"] <= 1
    for bundle, model in (("source_only", "uresnet"), ("bundle", "uresnet-dann")):
        info = json.loads((run / "dann_lartpc" / bundle / "bundle.json").read_text())
        assert info["model"] == model and info["provenance"]["keras_backend"] == backend
    assert uproot.open(run / "pixels.root")["scores"].num_entries == 24


def test_a_bundle_scores_the_same_on_tensorflow(backend_run: tuple[str, Path]) -> None:
    """The Keras files are backend-neutral: TensorFlow reproduces JAX's and PyTorch's scores to 1e-5."""
    import uproot

    from hepml.scoring import Scorer

    run = backend_run[1]
    scorer = Scorer(run / "dnn")
    arrays = uproot.open(run / "signal.root")["Events"].arrays(scorer.branches)
    on_tf = scorer(arrays)
    on_other = uproot.open(run / "scores.root")["scores"].arrays(library="np")
    passed = on_other["pass_cut"]
    np.testing.assert_allclose(on_tf["score_raw"][passed], on_other["score_raw"][passed], atol=1e-5)
    np.testing.assert_allclose(on_tf["score"][passed], on_other["score"][passed], atol=1e-5)


if __name__ == "__main__":
    run_every_task(Path(sys.argv[1]))
