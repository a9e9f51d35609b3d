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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hepml-bench"), help="for the simulated windows")
    parser.add_argument("--networks", nargs="+", default=["d6_f4_additive", "d6_f8_additive", "d6_f4_doubling"],
                        choices=list(NETWORKS))
    parser.add_argument("--steps", type=int, default=2, help="timed training steps after the first")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds for one network at one batch size")
    parser.add_argument("--windows", type=int, nargs=2, default=[2, 8], help="events of the two scored files")
    parser.add_argument("--skip", nargs="*", default=[], choices=["training", "scoring"])
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
    if "training" not in args.skip:
        training(args.out, args.networks, args.steps, args.timeout)
    if "scoring" not in args.skip:
        scoring(args.out, args.work, args.networks[0], args.windows)


if __name__ == "__main__":
    main()
