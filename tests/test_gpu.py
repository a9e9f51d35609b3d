"""On a machine with an accelerator: training runs on it, says so in its log, and its bundle
scores the same on the CPU.  Skipped, with the reason, everywhere else (CI has no GPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import uproot

from conftest import SPEC, hepml

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def gpu() -> None:
    from hepml.models import backend

    backend.configure()
    if not backend.accelerator():
        pytest.skip(f"no accelerator visible to the Keras backend ({backend.name()})")


def test_training_runs_on_the_accelerator_and_scores_the_same_on_cpu(
        gpu: None, higgs_features: list[Path], higgs_files: dict[str, Path], tmp_path: Path) -> None:
    train = hepml("train", *map(str, higgs_features), "--spec", str(SPEC), "--group", "all", "--model", "dnn",
                  "--model-config", json.dumps({"epochs": 2}), "--out", str(tmp_path / "dnn"))
    assert train.returncode == 0, train.stderr
    assert "GPU none" not in train.stderr and "GPU" in train.stderr
    outs = {}
    for device, env in (("gpu", {}), ("cpu", {"CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"})):
        out = tmp_path / f"{device}.root"
        run = subprocess.run([sys.executable, "-m", "hepml.cli", "score", str(tmp_path / "dnn"),
                              str(higgs_files["signal"]), "--out", str(out)],
                             capture_output=True, text=True, env={**os.environ, **env})
        assert run.returncode == 0, run.stderr
        outs[device] = uproot.open(out)["scores"]["score_raw"].array(library="np")
    np.testing.assert_allclose(outs["gpu"], outs["cpu"], atol=1e-4, equal_nan=True)
