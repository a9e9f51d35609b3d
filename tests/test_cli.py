"""The command line: fast --help without TensorFlow, one-line errors, --debug tracebacks."""

from __future__ import annotations

import os
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
