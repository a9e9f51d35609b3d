"""Sample sheets: which ntuples make up each sample, with its tree, class label and weight.

A sheet is a TSV file with a header row::

    sample   files                          tree    label  weight                     shared
    ttH      /data/ttH_*.root               Events  1      0.5071 * 139000 / 4.0e6
    ttbar    /data/tt_1.root,/data/tt_2.root Events  0      831.76 * 139000 / 2.0e6

``sample``, ``files`` and ``label`` are required; ``tree`` defaults to ``Events``, ``weight`` to
``1``, ``shared`` to no.  The ``weight`` is the sample's factor (cross section × luminosity /
generated events): it multiplies the spec's per-event ``weight``, the one rule for weights
(:meth:`hepml.features.FeatureSpec.with_sample_weight`).  Every row is checked before any job
runs, and a mistake names the sheet, the row (its line number) and the column:

* sample names are unique and safe as one path component (results are written under
  ``results/higgs/features/<sample>.root``): letters, digits, ``_ . + -``, not starting with a dot;
* the label is 0 (background) or 1 (signal); the weight parses as an expression;
* each file exists (globs must match), and no file is listed twice: within a sample it would
  count its events twice, across samples it would put the same events in two classes, unless
  every row listing it says ``shared: yes`` (e.g. one data file split by weights).
"""

from __future__ import annotations

import csv
import glob
import os
import re
from dataclasses import dataclass
from typing import Any

from hepml.errors import ConfigError, ExpressionError, closest
from hepml.expr import parse

__all__ = ["Sample", "read_sample_sheet", "COLUMNS", "REQUIRED"]

REQUIRED = ("sample", "files", "label")
COLUMNS = (*REQUIRED, "tree", "weight", "shared")
_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*")
_TREE = re.compile(r"[^/:;\s]+")
_YES, _NO = {"yes", "true", "1"}, {"", "no", "false", "0"}


@dataclass(frozen=True)
class Sample:
    name: str
    files: list[str]
    tree: str
    label: float
    weight: str
    shared: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "tree": self.tree, "label": self.label, "weight": self.weight,
                "shared": self.shared}


def read_sample_sheet(path: str | os.PathLike[str]) -> dict[str, Sample]:
    """The sheet's samples in order, every row checked (see the module docstring)."""
    sheet = os.fspath(path)
    if not os.path.isfile(sheet):
        raise ConfigError(f"{sheet}: sample sheet not found; give a TSV with columns {', '.join(COLUMNS)}")
    with open(sheet, newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    header = [h.strip() for h in rows[0]] if rows else []
    _check_header(sheet, header)
    samples: dict[str, Sample] = {}
    owners: dict[str, tuple[str, int, bool]] = {}  # real path -> (sample, line, shared)
    for line, values in enumerate(rows[1:], start=2):
        if not any(v.strip() for v in values):
            continue  # blank line
        if len(values) != len(header):
            raise ConfigError(f"{sheet}, row {line}: {len(values)} tab-separated fields, the header has "
                              f"{len(header)}; separate columns with one tab each")
        sample = _row(sheet, line, dict(zip(header, (v.strip() for v in values))))
        if sample.name in samples:
            raise ConfigError(f"{sheet}, row {line}, column 'sample': {sample.name!r} is listed twice; each sample "
                              "needs one row (list all its files in one row, comma-separated)")
        for file in sample.files:
            _claim(sheet, line, sample, file, owners)
        samples[sample.name] = sample
    if not samples:
        raise ConfigError(f"{sheet}: the sample sheet lists no samples")
    return samples


def _check_header(sheet: str, header: list[str]) -> None:
    for name in header:
        if name not in COLUMNS:
            raise ConfigError(f"{sheet}, row 1: unknown column {name!r} (closest: {closest(name, COLUMNS)}); "
                              f"columns: {', '.join(COLUMNS)}")
    for name in REQUIRED:
        if name not in header:
            raise ConfigError(f"{sheet}, row 1: no column {name!r}; a sample sheet needs {', '.join(REQUIRED)} "
                              "(tab-separated header row)")
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise ConfigError(f"{sheet}, row 1: column {twice[0]!r} appears twice; give each column once")


def _row(sheet: str, line: int, row: dict[str, str]) -> Sample:
    def fail(column: str, message: str) -> ConfigError:
        return ConfigError(f"{sheet}, row {line}, column {column!r}: {message}")

    name = row["sample"]
    if not _NAME.fullmatch(name):
        raise fail("sample", f"{name!r} is not a plain name (letters, digits, _ . + -, not starting with a dot): "
                             "it names files under results/")
    try:
        label = float(row["label"])
    except ValueError:
        raise fail("label", f"{row['label']!r} is not a class label; give 1 (signal) or 0 (background)") from None
    if label not in (0.0, 1.0):
        raise fail("label", f"{row['label']!r} is not a class label; give 1 (signal) or 0 (background)")
    tree = row.get("tree") or "Events"
    if not _TREE.fullmatch(tree):
        raise fail("tree", f"{tree!r} is not a tree name")
    weight = row.get("weight") or "1"
    try:
        parse(weight, f"{sheet}, row {line}, column 'weight'")
    except ExpressionError as err:
        raise ConfigError(str(err)) from None
    shared = (row.get("shared") or "").lower()
    if shared not in _YES | _NO:
        raise fail("shared", f"{row.get('shared')!r} is not yes or no")
    return Sample(name, _files(row["files"], fail), tree, label, weight, shared in _YES)


def _files(text: str, fail: Any) -> list[str]:
    files: list[str] = []
    for pattern in (p.strip() for p in text.split(",")):
        if not pattern:
            raise fail("files", f"{text!r} has an empty file name; separate files with single commas")
        hits = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        if not hits:
            raise fail("files", f"no file matches {pattern!r}; check the path and the glob")
        files.extend(hits)
    return files


def _claim(sheet: str, line: int, sample: Sample, file: str, owners: dict[str, tuple[str, int, bool]]) -> None:
    """Refuse a file listed twice: within a sample always, across samples unless both rows share it."""
    real = os.path.realpath(file)
    if real not in owners:
        owners[real] = (sample.name, line, sample.shared)
        return
    other, other_line, other_shared = owners[real]
    if other == sample.name:
        raise ConfigError(f"{sheet}, row {line}, column 'files': {file} is listed twice in sample {other!r}; its "
                          "events would count twice, list it once")
    if not (sample.shared and other_shared):
        raise ConfigError(f"{sheet}, row {line}, column 'files': {file} is also in sample {other!r} (row "
                          f"{other_line}); its events would be in two samples, list it once or set shared: yes in "
                          "both rows")
