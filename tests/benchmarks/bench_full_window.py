"""SBND's full readout window (3 planes x 2048 wires x 1280 ticks) with the UResNet (issue 27, item 3):
training memory per window and windows/s of each network, and the memory of scoring full windows
against their number.  Any Keras backend; on the device tool's GPU with KERAS_BACKEND=jax.

    python tests/benchmarks/bench_full_window.py OUT [--networks d6_f4_additive ...] [--windows 2 8]

1. Training: for each network, training steps at batch 1 and at batch 2, each in a fresh process.
   Memory per window is the difference of the two peaks (weights, optimiser state and the compiled
   step cancel), read from the backend's own counter on a GPU and from the process's peak RSS on a
   CPU.  bfloat16 compute on a GPU that has it (hepml.models.backend.mixed_policy), float32 on a
   CPU.  windows/s from the batch-2 steps after the first (which compiles).
2. Scoring: a bundle of the first network trained by ``hepml train-segmentation`` (one epoch on two
   simulated full windows), then the peak RSS of ``hepml score-pixels`` on files of ``--windows``
   events: streaming means the peak does not grow with the number of windows.
3. Arithmetic: each network's training FLOP per window (forward and backward, 3 x 2 x the
   convolutions' multiply-adds), the figure behind the data-parallel estimates of docs/howto/gpu.md.
4. Input: training windows/s of the stream that feeds the devices (read, densify, select the split,
   weight the pixels) with one reader thread and with as many as the job's cores, and the raw
   ``uproot.arrays`` of the pixel branches (sparse: far faster than any dense window).

Results go to OUT/full_window.json as they come.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from bench_gpu import peak_memory, uresnet_steps
from timing import cli_peak

WINDOW = (3, 2048, 1280)
NETWORKS = {  # name: (depth, filters, growth)
    "d6_f4_additive": (6, 4, "additive"),
    "d6_f8_additive": (6, 8, "additive"),
    "d6_f4_doubling": (6, 4, "doubling"),
    "d6_f16_additive": (6, 16, "additive"),  # CosmicTagger's 16 initial filters: for a GPU
    "d6_f16_doubling": (6, 16, "doubling"),  # full.yaml's 512 x 512 network: for a GPU
}
RESULTS: dict[str, Any] = {}


def record(out: Path, key: str, value: Any) -> None:
    RESULTS[key] = value
    print(f"{key}: {json.dumps(value)}", flush=True)
    (out / "full_window.json").write_text(json.dumps(RESULTS, indent=1))


def train_steps(name: str, batch: int, steps: int) -> dict[str, Any]:
    """Training steps of one network on random full windows (in a child process: its own peak)."""
    from hepml.models import backend
    from hepml.models.uresnet import UResNetConfig

    depth, filters, growth = NETWORKS[name]
    policy = backend.mixed_policy() if backend.accelerator() else "float32"
    config = UResNetConfig(depth=depth, filters=filters, growth=growth, batch_size=batch)
    timed = uresnet_steps(WINDOW, batch, config, policy, steps)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    device = peak_memory()
    return {"batch": batch, "policy": policy, "parameters": timed["parameters"], "compile_s": timed["compile_s"],
            "step_s": round(timed["seconds"] / steps, 2), "windows_per_s": round(steps * batch / timed["seconds"], 3),
            "peak_GiB": device.get("peak_GiB", round(rss, 2)), "counter": "device" if device else "peak RSS"}


def child(out: Path, name: str, batch: int, steps: int, timeout: int) -> dict[str, Any]:
    try:
        done = subprocess.run([sys.executable, __file__, str(out), "--child", name, str(batch), str(steps)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": (done.stderr.strip() or f"exit {done.returncode}")[-300:]}


def training(out: Path, networks: list[str], steps: int, timeout: int) -> None:
    for name in networks:
        one, two = (child(out, name, batch, steps, timeout) for batch in (1, 2))
        result: dict[str, Any] = {"batch1": one, "batch2": two}
        if "error" not in one and "error" not in two:
            per_window = two["peak_GiB"] - one["peak_GiB"]
            result.update(window=list(WINDOW), parameters=two["parameters"], policy=two["policy"],
                          counter=two["counter"], memory_per_window_GiB=round(per_window, 2),
                          fixed_GiB=round(one["peak_GiB"] - per_window, 2), windows_per_s=two["windows_per_s"])
        record(out, f"train_{name}", result)


def scoring(out: Path, work: Path, network: str, windows: list[int]) -> None:
    depth, filters, growth = NETWORKS[network]
    geometry = json.dumps({"wires": WINDOW[1], "ticks": WINDOW[2]})
    shape = ",".join(map(str, WINDOW))
    files = {}
    for i, n in enumerate([2, *windows]):
        files[n] = work / f"full_window_{n}.root"
        if not files[n].exists():
            cli_peak("simulate", "lartpc", "--geometry", geometry, "--events", str(n), "--seed", str(10 + i),
                     "--first-event", str(10**6 * (i + 1)), "--out", str(files[n]))
    bundle = work / f"full_window_{network}"
    if not bundle.exists():
        config = json.dumps({"depth": depth, "filters": filters, "growth": growth, "batch_size": 2, "epochs": 1})
        peak, wall = cli_peak("train-segmentation", str(files[2]), "--shape", shape, "--model-config", config,
                              "--out", str(bundle))
        record(out, "train_segmentation_2_windows", {"network": network, "peak_rss_GiB": round(peak / 1024, 2),
                                                     "s": round(wall, 1)})
    for n in windows:
        scores = work / f"full_window_scores_{n}.root"
        scores.unlink(missing_ok=True)
        peak, wall = cli_peak("score-pixels", str(bundle), str(files[n]), "--out", str(scores))
        record(out, f"score_pixels_{n}_windows", {"network": network, "peak_rss_GiB": round(peak / 1024, 2),
                                                  "s": round(wall, 1), "s_per_window": round(wall / n, 1)})
    first, last = (RESULTS[f"score_pixels_{n}_windows"]["peak_rss_GiB"] for n in (windows[0], windows[-1]))
    record(out, "score_pixels_peak_ratio", {"windows": [windows[0], windows[-1]], "ratio": round(last / first, 3)})


def training_flops(name: str, window: tuple[int, ...] = WINDOW) -> dict[str, Any]:
    """FLOP of one training step per window: 3 x (2 x multiply-adds of every convolution), the planes
    folded into the batch (BatchNorm, additions and the softmax are a few per cent more)."""
    import keras

    from hepml.models.uresnet import UResNetConfig, build_uresnet

    depth, filters, growth = NETWORKS[name]
    model = build_uresnet(*window, UResNetConfig(depth=depth, filters=filters, growth=growth))
    macs = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):  # each input pixel spreads over the kernel
            macs += int(np.prod(layer.kernel_size)) * layer.input.shape[-1] * layer.filters * int(
                np.prod(layer.input.shape[1:3]))
        elif isinstance(layer, keras.layers.Conv2D):
            macs += int(np.prod(layer.kernel_size)) * layer.input.shape[-1] * layer.filters * int(
                np.prod(layer.output.shape[1:3]))
    return {"window": list(window), "parameters": model.count_params(),
            "training_GFLOP_per_window": round(3 * 2 * macs * window[0] / 1e9, 1)}


def input_stream(out: Path, work: Path, windows: int = 16) -> None:
    """What feeds training: hepml's batches of full windows, one reader thread and as many as the
    job has cores, against the raw read of the sparse pixels."""
    import time

    import uproot

    from hepml.cpus import usable_cores
    from hepml.io.images import PIXEL_BRANCHES
    from hepml.tasks.cosmic.train import _batches, _class_weights

    path = work / f"full_window_{windows}.root"
    if not path.exists():
        cli_peak("simulate", "lartpc", "--geometry", json.dumps({"wires": WINDOW[1], "ticks": WINDOW[2]}),
                 "--events", str(windows), "--seed", "3", "--out", str(path))
    weights = _class_weights([str(path)], WINDOW)
    result: dict[str, Any] = {"windows": windows}
    for readers in sorted({1, usable_cores()}):
        seconds = []
        for _ in range(2):  # the second pass with the file in the page cache
            start, done = time.perf_counter(), 0
            for charge, _, _ in _batches([str(path)], WINDOW, 2, False, weights, 0.01, readers=readers):
                done += len(charge)
            seconds.append(time.perf_counter() - start)
        result[f"windows_per_s_{readers}_readers"] = round(done / min(seconds), 1)
    start = time.perf_counter()
    uproot.open(path)["Events"].arrays([*PIXEL_BRANCHES, "event"])
    result["raw_read_windows_per_s"] = round(windows / (time.perf_counter() - start), 1)
    result["training_windows"] = done
    record(out, "input_stream", result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hepml-bench"), help="for the simulated windows")
    parser.add_argument("--networks", nargs="+", default=["d6_f4_additive", "d6_f8_additive", "d6_f4_doubling"],
                        choices=list(NETWORKS))
    parser.add_argument("--steps", type=int, default=2, help="timed training steps after the first")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds for one network at one batch size")
    parser.add_argument("--windows", type=int, nargs=2, default=[2, 8], help="events of the two scored files")
    parser.add_argument("--skip", nargs="*", default=[], choices=["training", "scoring", "arithmetic", "input"])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)  # network, batch, steps: one measurement
    args = parser.parse_args()
    from hepml.models import backend

    backend.configure()
    if args.child:
        print(json.dumps(train_steps(args.child[0], int(args.child[1]), int(args.child[2]))))
        return
    import os

    import keras

    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    record(args.out, "machine", {"backend": keras.backend.backend(), "accelerator": backend.accelerator(),
                                 "cpus": os.cpu_count()})
    if "arithmetic" not in args.skip:
        for name in args.networks:
            record(args.out, f"flops_{name}", training_flops(name))
        record(args.out, "flops_d6_f16_doubling_512", training_flops("d6_f16_doubling", (3, 512, 512)))
    if "input" not in args.skip:
        input_stream(args.out, args.work)
    if "training" not in args.skip:
        training(args.out, args.networks, args.steps, args.timeout)
    if "scoring" not in args.skip:
        scoring(args.out, args.work, args.networks[0], args.windows)


if __name__ == "__main__":
    main()
