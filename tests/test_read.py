"""Reading ROOT files: sources, chunking, cuts, RNTuple, and every error path with its message."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from hepml.errors import CorruptFileError, MissingBranchError, MissingFileError, MissingTreeError, NotROOTFileError
from hepml.features import FeatureSpec
from hepml.io import iterate, resolve_sources
from hepml.io.write import write_friend

from conftest import leftovers


def test_file_tree_notation_glob_and_list(hzz: str, zmumu: str, tmp_path: Path) -> None:
    assert [str(s) for s in resolve_sources(f"{hzz}:events")] == [f"{hzz}:events"]
    copies = []
    for i in range(3):
        copies.append(tmp_path / f"part{i}.root")
        copies[-1].write_bytes(Path(zmumu).read_bytes())
    sources = resolve_sources(str(tmp_path / "part*.root"), tree="events")
    assert [Path(s.path).name for s in sources] == ["part0.root", "part1.root", "part2.root"]
    total = sum(len(c.arrays) for c in iterate([str(p) for p in copies], ["M"], tree="events"))
    assert total == 3 * 2304


def test_remote_urls_pass_through() -> None:
    (source,) = resolve_sources("root://eospublic.cern.ch//eos/opendata/file.root:Events")
    assert source.remote and source.tree == "Events"
    assert source.path == "root://eospublic.cern.ch//eos/opendata/file.root"


def test_chunks_are_bounded_and_cover_every_entry(zmumu: str) -> None:
    chunks = list(iterate(zmumu, ["M", "pt1"], step_size=500))
    assert [len(c.arrays) for c in chunks] == [500, 500, 500, 500, 304]
    assert [c.entry_start for c in chunks] == [0, 500, 1000, 1500, 2000]
    whole = uproot.open(zmumu)["events"]["M"].array(library="np")
    np.testing.assert_array_equal(np.concatenate([c.arrays.M.to_numpy() for c in chunks]), whole)


@pytest.mark.parametrize("cores", ["1", "2"])
def test_chunks_are_the_same_read_ahead_or_not(zmumu: str, cores: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two cores read the next chunk in a thread (read_ahead), one core does not: the same chunks."""
    from hepml.cpus import usable_cores

    monkeypatch.setenv("OMP_NUM_THREADS", cores)
    assert usable_cores() == int(cores)
    test_chunks_are_bounded_and_cover_every_entry(zmumu)
    chunks = list(iterate(zmumu, ["M"], step_size=700, cut="M > 80"))
    assert [c.entry_start for c in chunks] == [0, 700, 1400, 2100]
    whole = uproot.open(zmumu)["events"]["M"].array(library="np")
    np.testing.assert_array_equal(np.concatenate([c.entries for c in chunks]), np.flatnonzero(whole > 80))


def test_read_ahead_raises_where_the_item_would_come_and_stops_when_closed() -> None:
    import threading

    from hepml.io.background import read_ahead

    produced: list[int] = []

    def items(fail_at: int | None = None):  # type: ignore[no-untyped-def]
        for i in range(1000):
            if i == fail_at:
                raise ValueError(f"unreadable item {i}")
            produced.append(i)
            yield i

    got = []
    with pytest.raises(ValueError, match="unreadable item 3"):
        for item in read_ahead(items(fail_at=3)):
            got.append(item)
    assert got == [0, 1, 2]
    produced.clear()
    stream = read_ahead(items())
    assert next(stream) == 0
    stream.close()  # a consumer that stops early: the reader stops one or two items ahead
    assert not any(t.name == "hepml-read-ahead" and t.is_alive() for t in threading.enumerate())
    assert len(produced) <= 3


@pytest.mark.parametrize("workers", [1, 3])
def test_ordered_map_keeps_the_order_raises_in_place_and_stops_when_closed(workers: int) -> None:
    import threading
    import time

    from hepml.io.background import ordered_map

    def slow_square(i: int) -> int:
        time.sleep(0.01 * (i % 3))  # later items finish first in other threads
        if i == 7:
            raise ValueError(f"unreadable item {i}")
        return i * i

    assert list(ordered_map(slow_square, range(7), workers)) == [i * i for i in range(7)]
    got = []
    with pytest.raises(ValueError, match="unreadable item 7"):
        for value in ordered_map(slow_square, range(20), workers):
            got.append(value)
    assert got == [i * i for i in range(7)]
    taken: list[int] = []

    def items():  # type: ignore[no-untyped-def]
        for i in range(1000):
            taken.append(i)
            yield i

    stream = ordered_map(slow_square, items(), workers)
    assert next(stream) == 0
    stream.close()  # a consumer that stops early: no thread left, a few items taken at most
    assert not any(t.name.startswith("hepml-prepare") and t.is_alive() for t in threading.enumerate())
    assert len(taken) <= workers + 1


def test_branch_patterns_jagged_and_cut(hzz: str) -> None:
    (chunk,) = iterate(hzz, filter_name=["Muon_P*"], cut="NMuon >= 2 and MET_px > 0")
    assert set(chunk.arrays.fields) == {"Muon_Px", "Muon_Py", "Muon_Pz"}
    tree = uproot.open(hzz)["events"]
    raw = tree.arrays(["NMuon", "MET_px"], library="np")
    assert len(chunk.arrays) == np.count_nonzero((raw["NMuon"] >= 2) & (raw["MET_px"] > 0))
    assert ak.all(ak.num(chunk.arrays.Muon_Px) >= 2)


def test_rntuple(tmp_path: Path) -> None:
    path = tmp_path / "rn.root"
    with uproot.recreate(path) as f:
        f.mkrntuple("ntuple", {"x": np.arange(10.0), "j": ak.Array([[1.0, 2.0], []] * 5)})
    chunks = list(iterate(f"{path}:ntuple", ["x", "j"], step_size=4))
    assert sum(len(c.arrays) for c in chunks) == 10
    assert ak.to_list(chunks[0].arrays.j[:2]) == [[1.0, 2.0], []]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="nope.root: no such file"):
        list(iterate(str(tmp_path / "nope.root"), ["x"]))
    with pytest.raises(MissingFileError, match="no file matches"):
        resolve_sources(str(tmp_path / "*.root"))


def test_not_a_root_file(tmp_path: Path) -> None:
    bad = tmp_path / "text.root"
    bad.write_text("this is not ROOT\n" * 100)
    with pytest.raises(NotROOTFileError, match="text.root: not a ROOT file"):
        list(iterate(str(bad), ["x"]))


def test_truncated_file(tmp_path: Path, hzz: str) -> None:
    cut = tmp_path / "truncated.root"
    cut.write_bytes(Path(hzz).read_bytes()[: 100_000])
    with pytest.raises(CorruptFileError, match="truncated.root.*(truncated or corrupt)") as err:
        list(iterate(f"{cut}:events", ["MET_px"]))
    assert "\n" not in str(err.value)


def test_corrupt_baskets(tmp_path: Path, hzz: str) -> None:
    data = bytearray(Path(hzz).read_bytes())
    middle = len(data) // 2
    data[middle:middle + 5000] = b"\0" * 5000
    bad = tmp_path / "corrupt.root"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="corrupt.root:events.*truncated or corrupt"):
        for _ in iterate(f"{bad}:events", filter_name=["*"]):
            pass


def test_missing_tree_lists_present_ones(hzz: str) -> None:
    with pytest.raises(MissingTreeError, match="no tree 'Events'; trees in this file: events"):
        list(iterate(f"{hzz}:Events", ["MET_px"]))


def test_missing_branch_lists_closest(hzz: str) -> None:
    with pytest.raises(MissingBranchError) as err:
        list(iterate(hzz, ["Muon_px"]))
    text = str(err.value)
    assert "no branch 'Muon_px'" in text and "Muon_Px" in text and "events" in text
    with pytest.raises(MissingBranchError, match="no branch matches 'Tau_\\*'"):
        list(iterate(hzz, filter_name=["Tau_*"]))


def test_empty_tree_is_documented_behaviour(tmp_path: Path) -> None:
    """An empty tree yields no chunks, features with zero rows and an empty friend tree."""
    path = tmp_path / "empty.root"
    with uproot.recreate(path) as f:
        f.mktree("Events", {"x": np.float64})
    assert list(iterate(f"{path}:Events", ["x"])) == []
    spec = FeatureSpec({"features": {"x2": "x * 2"}, "fold_key": "entry"})
    assert list(spec.iter_tables(f"{path}:Events")) == []
    out = write_friend(tmp_path / "friend.root", [], tree="scores", expected_entries=0)
    assert uproot.open(out)["scores"].num_entries == 0
    assert leftovers(tmp_path) == ["empty.root", "friend.root"]
