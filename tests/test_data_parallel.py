"""Data-parallel UResNet training (hepml.models.parallel) on two devices, against one.

No machine here has two GPUs, so JAX is asked for two CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=2``): the same program Keras runs over two
GPUs, each batch split across the devices.  This file, run as a script under ``KERAS_BACKEND=jax``,
trains a UResNet plainly and domain-adversarially; the test runs it with one device and with two,
then compares the losses and scores the two-device bundle on TensorFlow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hepml.models.parallel import devices_for

HERE = Path(__file__).resolve()
URESNET = '{"depth": 2, "filters": 4, "epochs": 2, "batch_size": 4}'


def train_both_ways(folder: Path) -> None:
    """Plain and DANN training of a tiny UResNet through the CLI, on this process's devices."""
    from hepml.cli import main

    def hepml(*args: str) -> None:
        assert main([*args]) == 0, args

    for name, seed, first in (("sim", "4", "0"), ("data", "5", "100000"), ("test", "6", "200000")):
        hepml("simulate", "lartpc", "--events", "40", "--seed", seed, "--first-event", first,
              "--geometry", '{"wires": 32, "ticks": 32}', "--out", str(folder / f"{name}.root"))
    images = ["--shape", "3,32,32", "--model-config", URESNET, "--seed", "1"]
    hepml("train-segmentation", str(folder / "sim.root"), *images, "--out", str(folder / "plain"))
    hepml("train-segmentation", str(folder / "sim.root"), *images, "--target", str(folder / "data.root"),
          "--initial", str(folder / "plain"), "--out", str(folder / "dann"))


def test_a_batch_is_split_over_the_most_devices_that_divide_it() -> None:
    assert devices_for(8, 4) == 4
    assert devices_for(2, 4) == 2  # the other two would hold no window
    assert devices_for(6, 4) == 3
    assert devices_for(5, 2) == 1
    assert devices_for(16, 1) == 1
    assert devices_for(16, 0) == 1


def test_a_stream_is_read_in_order_and_refuses_shuffled_indices() -> None:
    """Keras' ``fit`` shuffles a PyDataset's indices unless told not to; a stream answering them in
    file order would train some batches of an epoch twice and skip others, so it refuses."""
    from hepml.models.streams import Stream

    stream = Stream(lambda: iter(range(5)), 5)
    for _ in range(2):  # each epoch starts again at batch 0
        assert [stream[i] for i in range(5)] == list(range(5))
    stream[0]
    with pytest.raises(RuntimeError, match=r"batch 3 .* batch 1 comes next.*shuffle=False"):
        stream[3]
    with pytest.raises(RuntimeError, match="batch 2"):
        Stream(lambda: iter(range(5)), 5)[2]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    pytest.importorskip("jax")
    folders = {}
    for devices in (1, 2):
        folder = tmp_path_factory.mktemp(f"devices{devices}")
        env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": "",
               "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
        out = subprocess.run([sys.executable, str(HERE), str(folder)], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        folders[devices] = folder
    return folders


def _bundle(folder: Path) -> dict:
    return json.loads((folder / "bundle.json").read_text())


def _history(folder: Path) -> dict:
    return json.loads((folder / "history.json").read_text())


def test_two_devices_train_as_one(runs: dict[int, Path]) -> None:
    """Each batch split over two devices: the same losses as on one, epoch by epoch (batch
    normalisation sees the whole batch), and the bundle says how many devices trained it."""
    for name, key in (("plain", "loss"), ("plain", "val_loss"), ("dann", "task_loss"), ("dann", "domain_loss")):
        one, two = _history(runs[1] / name)[key], _history(runs[2] / name)[key]
        assert len(one) == len(two) == 2
        np.testing.assert_allclose(two, one, rtol=1e-5, err_msg=f"{name} {key}")
    for devices, folder in runs.items():
        for name in ("plain", "dann"):
            assert _bundle(folder / name)["provenance"]["config"]["devices"] == devices


def test_a_two_device_bundle_scores_on_tensorflow(runs: dict[int, Path]) -> None:
    """What two devices trained is the plain network: TensorFlow scores it, within rounding of the
    one-device network's scores."""
    import uproot

    from hepml.cli import main

    for devices, folder in runs.items():
        assert main(["score-pixels", str(folder / "plain"), str(folder / "test.root"),
                     "--out", str(folder / "pixels.root")]) == 0
    one, two = (uproot.open(runs[d] / "pixels.root")["scores"].arrays(library="np") for d in (1, 2))
    assert len(two["event"]) == 40
    for branch in ("Pixel_cosmic", "Pixel_neutrino"):  # each pixel's class probabilities
        pixels = np.concatenate(two[branch])
        assert len(pixels) > 1000
        np.testing.assert_allclose(pixels, np.concatenate(one[branch]), atol=1e-4)


if __name__ == "__main__":
    train_both_ways(Path(sys.argv[1]))
