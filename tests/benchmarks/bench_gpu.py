"""Field-scale figures on one accelerator (any Keras backend; made for the device tool's GPU, see
docs in README "GPU"): the Higgs DNN at the paper's size and the UResNet at 512² and at SBND's
full window.  Each figure is printed beside a baseline measured in the same run.

    KERAS_BACKEND=jax python tests/benchmarks/bench_gpu.py OUT [--per-class 2200000] [--procs 16]

1. Generation and features of ``--per-class`` Higgs events per class, in ``--procs`` processes
   (the CLI, as a batch job would run it).
2. DNN 5 x 300 on fold 0's training events (2/3 of all, minus validation and calibration):
   seconds per epoch of a raw Keras ``fit`` on in-memory arrays at batch 1024 (the baseline), the
   same through hepml's ``fit_dense`` (and with its large-batch recipe at 8192), then the levers:
   larger batches, ``steps_per_execution``,
   the training set on the device.  Test AUC after equal epochs for each.  Then a whole
   ``hepml train-fold`` job of one epoch, and what it spends outside the epoch.
3. UResNet (full.yaml: depth 6, 16 filters) training steps on 3 x 512 x 512 windows, float32 and
   bfloat16: windows/s and peak device memory; then SBND's full 3 x 2048 x 1280 window at batch 2
   for the smaller networks that fit.

Results go to OUT/gpu.json as they come, so a run cut short keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from bench_fold_job import fold_job

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "workflows" / "config" / "higgs_features.yaml"
RESULTS: dict[str, Any] = {}


def record(out: Path, key: str, value: Any) -> None:
    RESULTS[key] = value
    print(f"{key}: {json.dumps(value)}", flush=True)
    (out / "gpu.json").write_text(json.dumps(RESULTS, indent=1))


def hepml(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "hepml.cli", *args], check=True, stdout=subprocess.DEVNULL)


def generate(out: Path, work: Path, per_class: int, procs: int) -> list[Path]:
    """Feature files of ``per_class`` events per class, made by ``procs`` CLI processes at a time."""
    parts = max(1, procs // 2)
    jobs = []
    for label, process, offset in ((1, "signal", 0), (0, "background", 10**10)):
        for i in range(parts):
            n = per_class // parts + (1 if i < per_class % parts else 0)
            jobs.append((label, process, i, n, offset + i * 10**8))
    start = time.perf_counter()
    with ThreadPoolExecutor(procs) as pool:
        list(pool.map(lambda j: hepml("simulate", j[1], "--events", str(j[3]), "--seed", str(100 + j[2] + 50 * j[0]),
                                      "--first-event", str(j[4]), "--out", str(work / f"{j[1]}{j[2]}.root")), jobs))
    t_gen = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(procs) as pool:
        list(pool.map(lambda j: hepml("features", f"{work / f'{j[1]}{j[2]}.root'}:Events", "--spec", str(SPEC),
                                      "--label", str(j[0]), "--out", str(work / f"f_{j[1]}{j[2]}.root")), jobs))
    record(out, "generation", {"events": 2 * per_class, "processes": procs, "simulate_s": round(t_gen, 1),
                               "features_s": round(time.perf_counter() - start, 1)})
    return [work / f"f_{j[1]}{j[2]}.root" for j in jobs]


class EpochTimes:
    """Seconds of each epoch (a Keras callback, made lazily so Keras is imported after the backend)."""

    def __new__(cls) -> Any:
        import keras

        class Times(keras.callbacks.Callback):
            def on_train_begin(self, logs: Any = None) -> None:
                self.times: list[float] = []

            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                self.times.append(time.perf_counter() - self.start)

        return Times()


def higgs(out: Path, files: list[Path], epochs: int) -> None:
    import keras

    from hepml.features import FeatureSpec
    from hepml.features.files import read_features
    from hepml.metrics import auc
    from hepml.models.dense import DenseConfig, build_dense, fit_dense, predict
    from hepml.tasks.higgs.train import fold_masks

    spec = FeatureSpec.from_yaml(SPEC)
    start = time.perf_counter()
    table = read_features(files, spec.groups["all"], spec.event_id)
    t_read = time.perf_counter() - start
    train, val, test = fold_masks(table.event_id["fold_key"], 3, 0, 0)
    X, y = table.X, table.label
    w = np.ones(len(y), np.float32)
    record(out, "higgs_events", {"all": len(y), "train": int(train.sum()), "validation": int(val.sum()),
                                 "test": int(test.sum()), "read_s": round(t_read, 1)})
    config = DenseConfig(layers=5, units=300, dropout=0.0, batch_size=1024, epochs=epochs, size_rule="off",
                         patience=epochs)

    def raw(batch: int, spe: int = 1, on_device: bool = False, lr: float = 2e-3) -> dict[str, Any]:
        keras.utils.set_random_seed(1)
        model = build_dense(X.shape[1], config, X[train])
        model.compile(optimizer=keras.optimizers.Adam(lr), loss="binary_crossentropy", steps_per_execution=spe)
        x_fit, y_fit = X[train], y[train][:, None]
        if on_device:
            x_fit, y_fit = keras.ops.convert_to_tensor(x_fit), keras.ops.convert_to_tensor(y_fit)
        times = EpochTimes()
        model.fit(x_fit, y_fit, batch_size=batch, epochs=epochs, shuffle=True, verbose=0, callbacks=[times])
        return {"batch": batch, "steps_per_execution": spe, "on_device": on_device, "lr": lr,
                "epoch_s": [round(t, 2) for t in times.times], "test_auc": round(auc(y[test], predict(model, X[test])),
                                                                                  4)}

    record(out, "dnn_raw_keras_b1024", raw(1024))
    start = time.perf_counter()
    model, _ = fit_dense(X[train], y[train], w[train], X[val], y[val], w[val], config, seed=1)
    record(out, "dnn_hepml_fit_dense_b1024", {"total_s": round(time.perf_counter() - start, 1), "epochs": epochs,
                                              "test_auc": round(auc(y[test], predict(model, X[test])), 4)})
    # the large-batch recipe (docs/explanation/training.md): same AUC as batch 1024 on the CPU
    recipe = replace(config, batch_size=8192, learning_rate=5e-4, batch_scaling="linear", warmup_epochs=1.0,
                     decay="cosine")
    start = time.perf_counter()
    large, _ = fit_dense(X[train], y[train], w[train], X[val], y[val], w[val], recipe, seed=1)
    record(out, "dnn_hepml_fit_dense_b8192_recipe", {"total_s": round(time.perf_counter() - start, 1),
                                                     "test_auc": round(auc(y[test], predict(large, X[test])), 4)})
    # and through the spec's symmetries (augment: true, full.yaml's): what the layer costs on the device
    start = time.perf_counter()
    turned, _ = fit_dense(X[train], y[train], w[train], X[val], y[val], w[val], replace(recipe, augment=True), seed=1,
                          symmetries=spec.symmetries.columns(spec.groups["all"]))
    record(out, "dnn_hepml_fit_dense_b8192_recipe_augment", {"total_s": round(time.perf_counter() - start, 1),
                                                             "test_auc": round(auc(y[test], predict(turned, X[test])),
                                                                               4)})
    for batch, spe, on_device, lr in ((8192, 1, False, 2e-3), (8192, 16, False, 2e-3), (8192, 16, True, 2e-3),
                                      (32768, 16, True, 4e-3)):
        record(out, f"dnn_raw_keras_b{batch}_spe{spe}{'_device' if on_device else ''}",
               raw(batch, spe, on_device, lr))
    start = time.perf_counter()
    predict(model, X[test])
    record(out, "dnn_predict_test", {"events": int(test.sum()), "s": round(time.perf_counter() - start, 2)})
    # the whole fold job as a batch job runs it: what is not the epoch (issue 27: at most 10 s)
    job = fold_job(list(map(str, files)), 5, 300)
    record(out, "fold_job_5x300_one_epoch", {k: round(v, 1) for k, v in job.items()})


URESNET_RUNS = (  # (name, shape, batch, depth, filters, mixed precision, steps)
    ("uresnet_512_float32", (3, 512, 512), 8, 6, 16, False, 12),
    ("uresnet_512_mixed", (3, 512, 512), 8, 6, 16, True, 12),
    ("uresnet_full_window_d6_f16", (3, 2048, 1280), 2, 6, 16, True, 4),
    ("uresnet_full_window_d6_f8", (3, 2048, 1280), 2, 6, 8, True, 4),
    ("uresnet_full_window_d5_f4", (3, 2048, 1280), 2, 5, 4, True, 4),
)


def uresnet(out: Path, scale: int) -> None:
    """Each configuration in its own process, so each peak memory is its own."""
    for run in URESNET_RUNS:
        result = subprocess.run([sys.executable, __file__, str(out), "--uresnet", run[0], "--scale", str(scale)],
                                capture_output=True, text=True, timeout=240)
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        record(out, run[0], json.loads(lines[-1]) if lines else {"error": result.stderr.strip()[-300:]})


def uresnet_run(name: str, scale: int) -> dict[str, Any]:
    from hepml.models import backend
    from hepml.models.uresnet import UResNetConfig

    _, shape, batch, depth, filters, mixed, steps = next(r for r in URESNET_RUNS if r[0] == name)
    shape = (shape[0], shape[1] // scale, shape[2] // scale)
    policy = backend.mixed_policy() if mixed else "float32"
    timed = uresnet_steps(shape, batch, UResNetConfig(depth=depth, filters=filters, batch_size=batch), policy, steps)
    return {"shape": shape, "batch": batch, "depth": depth, "filters": filters, "policy": policy,
            "parameters": timed["parameters"], "compile_s": timed["compile_s"],
            "windows_per_s": round(steps * batch / timed["seconds"], 2), **peak_memory()}


def uresnet_steps(shape: tuple[int, ...], batch: int, config: Any, policy: str, steps: int) -> dict[str, Any]:
    """A UResNet trained on random windows: its first step (which compiles), then ``steps`` timed."""
    import keras

    from hepml.models.uresnet import build_uresnet

    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    model = build_uresnet(*shape, config)
    rng = np.random.default_rng(0)
    x = rng.exponential(1.0, (batch, *shape)).astype(np.float32) * (rng.random((batch, *shape)) < 0.02)
    labels = rng.integers(0, 3, (batch, *shape)).astype(np.int32)
    start = time.perf_counter()
    model.train_on_batch(x, labels)  # compiles
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(x, labels)
    float(np.asarray(loss))
    return {"parameters": model.count_params(), "compile_s": round(compile_s, 1),
            "seconds": time.perf_counter() - start}


def peak_memory() -> dict[str, Any]:
    """The device's peak memory so far, from the backend's own counter (JAX and PyTorch)."""
    try:
        import jax

        stats = jax.devices()[0].memory_stats() or {}
        if "peak_bytes_in_use" in stats:
            return {"peak_GiB": round(stats["peak_bytes_in_use"] / 2**30, 2)}
    except Exception:  # noqa: BLE001 (no JAX, or a device without statistics)
        pass
    try:
        import torch

        if torch.cuda.is_available():
            peak = torch.cuda.max_memory_allocated() / 2**30
            torch.cuda.reset_peak_memory_stats()
            return {"peak_GiB": round(peak, 2)}
    except Exception:  # noqa: BLE001
        pass
    return {}


def torch_check(out: Path, files: list[Path]) -> None:
    """The same raw fit once on the PyTorch backend (in its own process: one backend per process)."""
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    result = subprocess.run([sys.executable, __file__, str(out), "--torch-fit", *map(str, files)], env=env,
                            capture_output=True, text=True, timeout=300)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    record(out, "dnn_torch_b8192", json.loads(lines[-1]) if lines else {"error": result.stderr.strip()[-300:]})


def torch_fit(files: list[str]) -> dict[str, Any]:
    import keras

    from hepml.features import FeatureSpec
    from hepml.features.files import read_features
    from hepml.metrics import auc
    from hepml.models.dense import DenseConfig, build_dense, predict
    from hepml.tasks.higgs.train import fold_masks

    spec = FeatureSpec.from_yaml(SPEC)
    table = read_features(files, spec.groups["all"], spec.event_id)
    train, _, test = fold_masks(table.event_id["fold_key"], 3, 0, 0)
    model = build_dense(table.X.shape[1], DenseConfig(layers=5, units=300, dropout=0.0, size_rule="off"),
                        table.X[train])
    times = EpochTimes()
    model.fit(table.X[train], table.label[train][:, None], batch_size=8192, epochs=2, verbose=0, callbacks=[times])
    return {"backend": keras.backend.backend(), "epoch_s": [round(t, 2) for t in times.times],
            "test_auc": round(auc(table.label[test], predict(model, table.X[test])), 4), **peak_memory()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hepml-bench"), help="for the generated files")
    parser.add_argument("--per-class", type=int, default=2_200_000)
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--scale", type=int, default=1, help="divide the UResNet images' sides (a CPU trial)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["higgs", "uresnet", "torch"])
    parser.add_argument("--uresnet", help=argparse.SUPPRESS)  # one configuration, in a child process
    parser.add_argument("--torch-fit", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from hepml.models import backend

    backend.configure()
    if args.uresnet or args.torch_fit:
        print(json.dumps(uresnet_run(args.uresnet, args.scale) if args.uresnet else torch_fit(args.torch_fit)))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    import keras

    record(args.out, "machine", {"backend": keras.backend.backend(), "accelerator": backend.accelerator(),
                                 "cpus": os.cpu_count()})
    files: list[Path] = []
    if "higgs" not in args.skip:
        files = generate(args.out, args.work, args.per_class, args.procs)
        higgs(args.out, files, args.epochs)
    if "uresnet" not in args.skip:
        uresnet(args.out, args.scale)
    if "torch" not in args.skip and files:
        torch_check(args.out, files)


if __name__ == "__main__":
    main()
