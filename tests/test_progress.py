"""Progress bars on long steps: drawn on a terminal, absent from logs and under --quiet."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from hepml.cli import main

from conftest import SPEC


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _stderr_of(monkeypatch: pytest.MonkeyPatch, argv: list[str], stream: io.StringIO) -> str:
    monkeypatch.setattr(sys, "stderr", stream)
    assert main(argv) == 0
    monkeypatch.undo()
    return stream.getvalue()


@pytest.mark.parametrize(("stream", "quiet", "shown"), [(Terminal, False, True), (Terminal, True, False),
                                                        (io.StringIO, False, False)])
def test_generation_and_features_show_progress_only_on_a_terminal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stream: type[io.StringIO], quiet: bool, shown: bool) -> None:
    flag = ["--quiet"] if quiet else []
    ntuple = tmp_path / "s.root"
    text = _stderr_of(monkeypatch, [*flag, "simulate", "signal", "--events", "2000", "--out", str(ntuple)], stream())
    text += _stderr_of(monkeypatch, [*flag, "features", str(ntuple), "--spec", str(SPEC), "--label", "1",
                                     "--out", str(tmp_path / "f.root")], stream())
    assert ("generating s.root" in text and "features f.root" in text and "events" in text) == shown
    assert text if shown else text == ""


def test_training_shows_epochs_and_losses(monkeypatch: pytest.MonkeyPatch) -> None:
    from hepml.models.dense import DenseConfig, fit_dense

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(512, 3)), rng.integers(0, 2, 512)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    fit_dense(x, y, np.ones(512), x, y, np.ones(512), DenseConfig(layers=1, units=4, epochs=2, batch_size=128),
              progress="training toy")
    monkeypatch.undo()
    assert "training toy" in terminal.getvalue() and "epochs" in terminal.getvalue()
