"""Every task on another Keras backend (JAX, on the CPU), and bundles that score the same across
backends.

The tasks run in one subprocess with ``KERAS_BACKEND=jax`` (this file run as a script): Higgs
k-fold training and scoring, both DANN studies (the LArTPC one trains the UResNet without a target,
source-only and oracle, and with one, DANN), per-pixel scoring.  The
test process, on TensorFlow, then scores the JAX-trained bundle and compares.
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
TINY_URESNET = '{"depth": 2, "filters": 4, "epochs": 1, "batch_size": 4}'


def run_every_task(folder: Path) -> None:
    """The CLI verbs of every task, on the backend of this process (``KERAS_BACKEND``)."""
    from hepml.cli import main

    def hepml(*args: str) -> None:
        assert main([*args]) == 0, args

    for process, label, first in (("signal", "1", "0"), ("background", "0", "1000000000")):
        hepml("simulate", process, "--events", "1500", "--seed", "3", "--first-event", first,
              "--out", str(folder / f"{process}.root"))
        hepml("features", f"{folder / process}.root:Events", "--spec", str(SPEC), "--label", label,
              "--out", str(folder / f"f_{process}.root"))
    features = [str(folder / "f_signal.root"), str(folder / "f_background.root")]
    hepml("train", *features, "--spec", str(SPEC), "--model-config", TINY_DNN, "--out", str(folder / "dnn"))
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


@pytest.fixture(scope="module")
def jax_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("jax")
    folder = tmp_path_factory.mktemp("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, str(HERE), str(folder)], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return folder


def test_every_task_runs_on_jax(jax_run: Path) -> None:
    import uproot

    info = json.loads((jax_run / "dnn" / "bundle.json").read_text())
    assert info["provenance"]["keras_backend"] == "jax"
    scores = uproot.open(jax_run / "scores.root")["scores"].arrays(library="np")
    passed = scores["pass_cut"]
    assert passed.sum() > 1000 and np.all((scores["score"][passed] >= 0) & (scores["score"][passed] <= 1))
    for run in ("dann_higgs", "dann_lartpc"):
        metrics = json.loads((jax_run / run / "metrics.json").read_text())
        assert 0 <= metrics["target"]["dann"] <= 1
    for bundle, model in (("source_only", "uresnet"), ("bundle", "uresnet-dann")):
        info = json.loads((jax_run / "dann_lartpc" / bundle / "bundle.json").read_text())
        assert info["model"] == model and info["provenance"]["keras_backend"] == "jax"
    assert uproot.open(jax_run / "pixels.root")["scores"].num_entries == 24


def test_a_jax_bundle_scores_the_same_on_tensorflow(jax_run: Path) -> None:
    """The Keras files are backend-neutral: TensorFlow reproduces JAX's scores to 1e-5."""
    import uproot

    from hepml.scoring import Scorer

    scorer = Scorer(jax_run / "dnn")
    arrays = uproot.open(jax_run / "signal.root")["Events"].arrays(scorer.branches)
    on_tf = scorer(arrays)
    on_jax = uproot.open(jax_run / "scores.root")["scores"].arrays(library="np")
    passed = on_jax["pass_cut"]
    np.testing.assert_allclose(on_tf["score_raw"][passed], on_jax["score_raw"][passed], atol=1e-5)
    np.testing.assert_allclose(on_tf["score"][passed], on_jax["score"][passed], atol=1e-5)


if __name__ == "__main__":
    run_every_task(Path(sys.argv[1]))
