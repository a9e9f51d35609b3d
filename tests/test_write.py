"""Score write-back: friend trees read back by uproot and by ROOT itself, in-place mode, atomicity."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from hepml.errors import HepmlError
from hepml.io import Source, add_branches_in_place, write_friend

from conftest import leftovers


def _chunks(n: int, size: int):
    rng = np.random.default_rng(1)
    for start in range(0, n, size):
        m = min(size, n - start)
        counts = rng.integers(0, 4, m)
        yield {
            "score": rng.random(m).astype(np.float32),
            "event": np.arange(start, start + m, dtype=np.int64),
            "Pixel": ak.zip({"cosmic": ak.unflatten(rng.random(counts.sum()).astype(np.float32), counts),
                             "neutrino": ak.unflatten(rng.random(counts.sum()).astype(np.float32), counts)}),
        }


def test_friend_round_trip_flat_and_jagged(tmp_path: Path) -> None:
    chunks = list(_chunks(1000, 300))
    out = write_friend(tmp_path / "friend.root", iter(chunks), tree="scores", expected_entries=1000)
    tree = uproot.open(out)["scores"]
    assert tree.num_entries == 1000
    assert set(tree.keys()) == {"score", "event", "nPixel", "Pixel_cosmic", "Pixel_neutrino"}
    back = tree.arrays()
    np.testing.assert_array_equal(back.score, np.concatenate([c["score"] for c in chunks]))
    np.testing.assert_array_equal(back.event, np.arange(1000))
    assert ak.to_list(back.Pixel_cosmic) == ak.to_list(ak.concatenate([c["Pixel"].cosmic for c in chunks]))
    assert leftovers(tmp_path) == ["friend.root"]


def test_entry_count_mismatch_keeps_nothing(tmp_path: Path) -> None:
    with pytest.raises(HepmlError, match="wrote 1000 entries.*expected 999; nothing was kept"):
        write_friend(tmp_path / "friend.root", _chunks(1000, 300), expected_entries=999)
    assert leftovers(tmp_path) == []


def test_failure_midway_leaves_no_file(tmp_path: Path) -> None:
    def broken():
        yield from _chunks(600, 300)
        raise RuntimeError("job killed")

    with pytest.raises(RuntimeError):
        write_friend(tmp_path / "friend.root", broken())
    assert leftovers(tmp_path) == []


def test_root_reads_friend_through_addfriend(tmp_path: Path, zmumu: str) -> None:
    ROOT = pytest.importorskip("ROOT")
    m = uproot.open(zmumu)["events"]["M"].array(library="np")
    out = write_friend(tmp_path / "scores.root", [{"score": (m / 100).astype(np.float32), "Event": np.arange(len(m))}],
                       tree="scores", expected_entries=len(m))
    f = ROOT.TFile.Open(zmumu)
    tree = f.Get("events")
    tree.AddFriend("scores", str(out))
    n = tree.Draw("scores.score - M/100.", "", "goff")
    assert n == len(m)
    diffs = np.frombuffer(tree.GetV1(), dtype=np.float64, count=n)
    assert np.max(np.abs(diffs)) < 1e-5
    f.Close()


def test_in_place_adds_branches_and_keeps_data(tmp_path: Path, zmumu: str) -> None:
    path = tmp_path / "copy.root"
    shutil.copyfile(zmumu, path)
    n = uproot.open(path)["events"].num_entries
    add_branches_in_place(Source(str(path), "events"), {"hepml_score": np.linspace(0, 1, n).astype(np.float32)})
    tree = uproot.open(path)["events"]
    np.testing.assert_allclose(tree["hepml_score"].array(library="np"), np.linspace(0, 1, n), rtol=1e-6)
    np.testing.assert_array_equal(tree["M"].array(library="np"), uproot.open(zmumu)["events"]["M"].array(library="np"))
    assert leftovers(tmp_path) == ["copy.root"]


def test_in_place_refusals_leave_the_input_untouched(tmp_path: Path, zmumu: str) -> None:
    path = tmp_path / "copy.root"
    shutil.copyfile(zmumu, path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(HepmlError, match="branch 'M' exists already"):
        add_branches_in_place(Source(str(path), "events"), {"M": np.zeros(2304)})
    with pytest.raises(HepmlError, match="has 10 entries, the tree has 2304"):
        add_branches_in_place(Source(str(path), "events"), {"s": np.zeros(10)})
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert leftovers(tmp_path) == ["copy.root"]


def test_in_place_refuses_rntuple(tmp_path: Path) -> None:
    path = tmp_path / "rn.root"
    with uproot.recreate(path) as f:
        f.mkrntuple("ntuple", {"x": np.arange(3.0)})
    with pytest.raises(HepmlError, match="TTrees only"):
        add_branches_in_place(Source(str(path), "ntuple"), {"s": np.zeros(3)})
