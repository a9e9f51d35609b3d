"""Opt-in: add branches to the user's own TTree (uproot >= 5.7 ``add_branches``), never damaging it.

uproot rewrites the tree's metadata to add branches, and that rewrite is not always faithful: on
uproot 5.7, jagged branches sharing one counter (``nJet`` for ``Jet_pt``, ``Jet_eta``...) lose the
counter and become unreadable.  So the branches go into a copy, and the copy replaces the input
only after **every** original branch, jagged ones included, has been read back chunk by chunk and
compared value by value with the input, the new branches compared with what was written, and the
file's other objects found still there.  Otherwise the input stays byte-identical and the error
says to use the friend-tree output.  The file keeps its permissions and owner; a symlink keeps
pointing where it did (the file it points to is the one replaced).
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import uproot

from hepml.errors import CorruptFileError, HepmlError, InPlaceError
from hepml.io.atomic import atomic_path
from hepml.io.read import Source, list_trees, open_file, open_tree
from hepml.io.write import as_writable

__all__ = ["add_branches_in_place", "VERIFY_BYTES"]

VERIFY_BYTES = 50_000_000  # uncompressed bytes of one branch held at a time while verifying
_FRIEND_HINT = "the input is unchanged; write a friend tree instead (leave out --in-place)"


def add_branches_in_place(source: Source, columns: Mapping[str, Any]) -> None:
    """Add ``columns`` (one value per entry each) to the tree of ``source``, verified, or refuse."""
    if source.remote:
        raise InPlaceError(f"{source}: in-place writing needs a local file; {_FRIEND_HINT}")
    tree = open_tree(source)
    name = source.tree or tree.name
    where = f"{source.path}:{name}"
    if not hasattr(tree, "branches"):
        raise InPlaceError(f"{where}: in-place writing supports TTrees only (this is an RNTuple); {_FRIEND_HINT}")
    if not columns:
        raise InPlaceError(f"{where}: no branches to add")
    n = int(tree.num_entries)
    clash = sorted(set(columns) & set(tree.keys()))
    if clash:
        raise InPlaceError(f"{where}: branch {clash[0]!r} exists already; choose another --prefix or use the "
                           "friend-tree output")
    for key, values in columns.items():
        if len(values) != n:
            raise InPlaceError(f"{where}: branch {key!r} has {len(values)} entries, the tree has {n}")
    real = Path(os.path.realpath(source.path))
    status = real.stat()
    if not status.st_mode & 0o222 or not os.access(real, os.W_OK):
        raise InPlaceError(f"{where}: the file is read-only (mode {stat.filemode(status.st_mode)}): its owner "
                           f"protected it; {_FRIEND_HINT}, or make it writable (chmod u+w) if you mean to change it")
    with atomic_path(real) as tmp:
        shutil.copyfile(real, tmp)
        try:
            with uproot.update(tmp) as f:
                f[name].add_branches({k: as_writable(v) for k, v in columns.items()})
        except NotImplementedError as err:
            raise InPlaceError(f"{where}: uproot cannot add branches to this tree ({' '.join(str(err).split())[:120]});"
                             f" {_FRIEND_HINT}") from None
        _verify(Source(str(real), name), Source(str(tmp), name), columns, where)
        os.chmod(tmp, status.st_mode)
        if (status.st_uid, status.st_gid) != (os.getuid(), os.getgid()):
            try:
                os.chown(tmp, status.st_uid, status.st_gid)
            except PermissionError:
                raise InPlaceError(f"{where}: the file belongs to another user, whom the rewritten file could not "
                                 f"be given back to; {_FRIEND_HINT}") from None


def _verify(original: Source, copy: Source, columns: Mapping[str, Any], where: str) -> None:
    """Every original branch reads back equal, the new ones equal what was written, nothing else lost."""
    before, after = open_tree(original), open_tree(copy)
    file_before, file_after = open_file(original), open_file(copy)
    lost = sorted(set(list_trees(file_before)) - set(list_trees(file_after)))
    others = {k.split(";")[0] for k in file_before.keys()} - {k.split(";")[0] for k in file_after.keys()}
    if lost or others or after.num_entries != before.num_entries:
        what = (lost or sorted(others) or [f"{before.num_entries} -> {after.num_entries} entries"])[0]
        raise CorruptFileError(f"{where}: in-place write could not be verified (lost {what}); {_FRIEND_HINT}")
    names = list(before.keys())
    if set(after.keys()) != set(names) | set(columns):
        raise CorruptFileError(f"{where}: in-place write changed the branch list; {_FRIEND_HINT}")
    n = int(before.num_entries)
    # the same entry steps on both sides, each bounded in memory by the branch's size per entry
    steps = {name: max(1, int(VERIFY_BYTES * n / max(1, before[name].uncompressed_bytes))) for name in names}
    expected = {name: iter(before.iterate([name], step_size=steps[name], library="ak")) for name in names}
    for branch in [*names, *columns]:
        try:
            if branch in columns:  # written in one basket from memory: read back in one go
                _same(ak.Array(as_writable(columns[branch])), after[branch].array(library="ak"), branch, where)
                continue
            for new in after.iterate([branch], step_size=steps[branch], library="ak"):
                _same(next(expected[branch])[branch], new[branch], branch, where)
        except HepmlError:
            raise
        except Exception as err:  # the rewritten tree cannot even be read
            raise CorruptFileError(f"{where}: in-place write would damage branch {branch!r} (unreadable afterwards: "
                                   f"{' '.join(str(err).split())[:100]}); {_FRIEND_HINT}") from None


def _same(a: Any, b: Any, branch: str, where: str) -> None:
    if len(a) != len(b) or not ak.array_equal(a, b, equal_nan=True, dtype_exact=False, same_content_types=False,
                                              check_parameters=False, check_regular=False):
        raise CorruptFileError(f"{where}: in-place write would damage branch {branch!r} (it reads back different "
                               f"values after uproot added the branches); {_FRIEND_HINT}")
