"""The Higgs DNN's large-batch recipe: the learning rate scaled with the batch, warmed up and decayed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hepml.models.dense import REFERENCE_BATCH, DenseConfig, learning_rate, peak_learning_rate

from conftest import SPEC, hepml


def test_the_rate_scales_with_the_batch() -> None:
    for scaling, factor in (("none", 1.0), ("sqrt", 4.0), ("linear", 16.0)):
        config = DenseConfig(learning_rate=1e-3, batch_size=16 * REFERENCE_BATCH, batch_scaling=scaling)
        assert peak_learning_rate(config) == pytest.approx(factor * 1e-3)
    assert learning_rate(DenseConfig()) == 2e-3  # the demo's recipe: a constant rate, no schedule
    with pytest.raises(ValueError, match="dnn.decay: 'linear' is not one of none, cosine"):
        DenseConfig(decay="linear")


def test_warm_up_then_held_or_cosine() -> None:
    """100 steps per epoch, 4 epochs: a linear rise over the first 100 steps, then the peak held, or
    a half cosine from the peak down to 0 at step 400 (half the peak half-way, step 250)."""
    held = learning_rate(DenseConfig(learning_rate=1e-3, epochs=4, warmup_epochs=1.0), steps_per_epoch=100)
    assert [float(held(step)) for step in (0, 50, 100, 399)] == pytest.approx([0.0, 5e-4, 1e-3, 1e-3])
    cosine = learning_rate(DenseConfig(learning_rate=1e-3, epochs=4, warmup_epochs=1.0, decay="cosine"),
                           steps_per_epoch=100)
    assert [float(cosine(step)) for step in (50, 100, 250, 400)] == pytest.approx([5e-4, 1e-3, 5e-4, 0.0], abs=1e-9)
    no_warmup = learning_rate(DenseConfig(learning_rate=1e-3, epochs=2, decay="cosine"), steps_per_epoch=10)
    assert [float(no_warmup(step)) for step in (0, 10, 20)] == pytest.approx([1e-3, 5e-4, 0.0], abs=1e-9)


def test_a_fold_job_follows_the_schedule(higgs_features: list[Path], tmp_path: Path) -> None:
    """Through ``hepml train-fold`` on generated ntuples: the rate each epoch ends at (the job's log)
    is the schedule's, and the saved network, optimiser and schedule included, loads and scores."""
    import keras
    import numpy as np

    config = ('{"epochs": 4, "patience": 4, "units": 8, "layers": 1, "size_rule": "off", "batch_size": 256,'
              ' "batch_scaling": "sqrt", "warmup_epochs": 2, "decay": "cosine"}')
    out = hepml("train-fold", *map(str, higgs_features), "--spec", str(SPEC), "--fold", "0",
                "--model-config", config, "--out", str(tmp_path / "fold0"))
    assert out.returncode == 0, out.stderr
    rates = [float(r) for r in re.findall(r"epoch \d/4: .*, lr ([0-9.e+-]+), ", out.stderr)]
    peak = 2e-3 * (256 / REFERENCE_BATCH) ** 0.5  # the default rate, scaled to batch 256
    assert rates == pytest.approx([peak / 2, peak, peak / 2, 0.0], rel=5e-3, abs=1e-9), out.stderr  # logged to 3 digits
    networks = list((tmp_path / "fold0").glob("*.keras"))
    assert networks, sorted(p.name for p in (tmp_path / "fold0").iterdir())
    model = keras.saving.load_model(networks[0], compile=True)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)  # the schedule came back, at its end
    scores = keras.ops.convert_to_numpy(model(np.zeros((3, model.input_shape[1]), np.float32)))
    assert scores.shape == (3, 1) and np.all((scores > 0) & (scores < 1))
