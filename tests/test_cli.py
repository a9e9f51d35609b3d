"""The command line: fast --help without TensorFlow, one-line errors, --debug tracebacks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import leftovers


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hepml.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_help_is_fast_and_does_not_import_tensorflow() -> None:
    code = ("import sys, time; t = time.perf_counter(); from hepml.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('TF' if 'tensorflow' in sys.modules or 'keras' in sys.modules else 'noTF', time.perf_counter() - t)")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    flag, seconds = out.stdout.split()[-2:]
    assert flag == "noTF"
    assert float(seconds) < 0.5, f"hepml --help took {seconds} s inside Python"
    assert wall < 3.0, f"hepml --help took {wall:.2f} s including interpreter start"
    assert "inspect" in out.stdout and "train" in out.stdout


def test_console_script_help() -> None:
    exe = Path(sys.executable).with_name("hepml")
    if exe.exists():
        out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
        assert "score" in out.stdout


def test_inspect_lists_trees_and_branch_types(zmumu: str) -> None:
    out = run("inspect", zmumu)
    assert out.returncode == 0, out.stderr
    assert "events (TTree): 2304 entries" in out.stdout
    assert "M" in out.stdout and "double" in out.stdout


def test_errors_are_one_line_and_debug_shows_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nope.root"
    out = run("inspect", str(missing))
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "nope.root" in lines[0] and "no such file" in lines[0]
    debug = run("--debug", "inspect", str(missing))
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_features_error_leaves_no_output(tmp_path: Path, zmumu: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("tree: events\nfeatures:\n  pt: pt_one\n")
    out = run("features", zmumu, "--spec", str(spec), "--out", str(tmp_path / "out" / "f.root"))
    assert out.returncode == 1
    assert "pt_one" in out.stderr and "closest" in out.stderr and "pt1" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() or leftovers(tmp_path / "out") == []


TF_POOL_SIZES = ("import os\n{setup}import hepml.models.dense, tensorflow as tf\n"
                 "x = tf.random.normal((256, 256)); float(tf.reduce_sum(x @ x))\n"
                 "names = [open(f'/proc/self/task/{{t}}/comm').read().strip() for t in os.listdir('/proc/self/task')]\n"
                 "print(names.count('tf_Compute'))")


def tf_inter_op_threads(env_threads: str | None, setup: str = "") -> int:
    """How many inter-op threads TensorFlow started, with OMP_NUM_THREADS as given (None: unset)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    if env_threads is not None:
        env["OMP_NUM_THREADS"] = env_threads
    code = TF_POOL_SIZES.format(setup=setup)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to count threads")
def test_tensorflow_keeps_to_the_jobs_thread_budget() -> None:
    """OMP_NUM_THREADS (Snakemake sets it from a rule's threads) sizes TensorFlow's pools too;
    limit_threads (hepml --threads) overrides it."""
    assert tf_inter_op_threads("3") == 3
    assert tf_inter_op_threads("1") == 1
    assert tf_inter_op_threads("1", setup="from hepml.models.backend import limit_threads; limit_threads(3)\n") == 3


def test_threads_option_sets_every_pool(monkeypatch: pytest.MonkeyPatch, zmumu: str) -> None:
    from hepml.cli import main
    from hepml.models.backend import THREAD_VARIABLES

    for name in THREAD_VARIABLES:
        monkeypatch.setenv(name, "7")
    assert main(["--threads", "3", "--quiet", "inspect", zmumu]) == 0
    assert {os.environ[name] for name in THREAD_VARIABLES} == {"3"}
    bad = run("--threads", "0", "inspect", zmumu)
    assert bad.returncode == 2 and "--threads must be at least 1" in bad.stderr


def test_no_cuda_error_in_cpu_logs() -> None:
    """A CPU job's log has no TensorFlow 'failed call to cuInit' ERROR line (issue: quiet logs)."""
    from hepml.models.backend import gpu_visible

    if gpu_visible():
        pytest.skip("a GPU is visible: TensorFlow's CUDA messages are meaningful here")
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "CUDA_VISIBLE_DEVICES")}
    code = ("import hepml.models.dense, tensorflow as tf\n"
            "print(len(tf.config.list_physical_devices('GPU')), float(tf.reduce_sum(tf.ones(3))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["0", "3.0"]
    assert "cuInit" not in out.stderr and "\nE0" not in "\n" + out.stderr, out.stderr


def test_a_training_jobs_log_says_what_runs(higgs_features: list[Path], tmp_path: Path) -> None:
    """Not a terminal (a batch log): one line per epoch with the losses, the learning rate and the
    seconds, what the job decided at its start, and no TensorFlow start-up lines."""
    from conftest import SPEC

    out = run("train-fold", *map(str, higgs_features), "--spec", str(SPEC), "--fold", "1",
              "--model-config", '{"epochs": 3, "patience": 3, "units": 8, "layers": 1}', "--out", str(tmp_path / "f"))
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    epochs = [line for line in lines if " INFO hepml.models.progress: " in line and "epoch " in line]
    assert len(epochs) == 3 and all("loss" in e and "val_loss" in e and ", lr " in e for e in epochs), out.stderr
    assert any("Keras backend tensorflow; CPU threads" in line for line in lines)
    assert any("dnn fold 1/3: training on" in line for line in lines)
    # the last line counts what the network trained on, not the whole table (every role, calibration included)
    done = re.search(r"fold 1/3, training on (\d+) events, early-stopping on (\d+), scoring (\d+) of (\d+) selected",
                     out.stdout)
    assert done, out.stdout
    train, validation, scored, total = map(int, done.groups())
    assert train + validation + scored < total and train > scored > 0
    assert f"training on {train} events, early-stopping on {validation}, scoring {scored}" in out.stderr
    assert any("size rule:" in line for line in lines)  # 8000 events: the small-sample settings, said
    assert not [line for line in lines if line.startswith(("I0000", "WARNING: All log messages"))], out.stderr
    quiet = run("--log-level", "WARNING", "train-fold", *map(str, higgs_features), "--spec", str(SPEC), "--fold", "1",
                "--model-config", '{"epochs": 1, "units": 8, "layers": 1}', "--out", str(tmp_path / "g"))
    assert quiet.returncode == 0 and " INFO " not in quiet.stderr


def test_an_internal_error_is_called_a_bug(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                           zmumu: str) -> None:
    """Only hepml's own errors (a user's mistake) are one line; an internal KeyError is a bug: its
    traceback, a line that says so, status 70."""
    from hepml import cli
    from hepml.io import inspect

    def broken(*args: object, **kwargs: object) -> str:
        raise KeyError("internal")

    monkeypatch.setattr(inspect, "describe", broken)
    assert cli.main(["inspect", zmumu]) == cli.BUG
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'internal'" in err
    assert "hepml inspect: internal error (KeyError): this is a bug in hepml" in err
    monkeypatch.undo()
    assert cli.main(["inspect", zmumu + ".missing"]) == 1  # a user's mistake: one line, no traceback
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
