"""``hepml inspect``: trees, entries and branches with their types; the first command a new user runs.

It also tells whether the data can be read: :func:`basket_problems` checks that every basket of
every TTree branch lies inside the file and starts with a basket header (cheap: a few bytes per
basket), and with ``deep=True`` decompresses every basket.  A copy cut short or overwritten in
places shows up here, before a long job fails on it.
"""

from __future__ import annotations

import os
import struct
from typing import Any

from hepml.io.read import Source, list_trees, open_file, open_tree, resolve_sources

__all__ = ["describe", "basket_problems"]


def describe(path: str, *, branches: bool = True) -> str:
    """A readable listing of every tree (TTree and RNTuple) in each file matched by ``path``."""
    lines = []
    for source in resolve_sources(path):
        trees = list_trees(open_file(source))
        names = [source.tree] if source.tree else sorted(trees)
        lines.append(f"{source.path}: {len(names)} tree(s)")
        for name in names:
            tree = open_tree(Source(source.path, name))
            lines.append(f"  {name} ({trees.get(name, '?')}): {tree.num_entries} entries")
            if branches:
                types = _types(tree)
                width = max((len(k) for k in types), default=0)
                lines.extend(f"    {k:<{width}}  {v}" for k, v in types.items())
    return "\n".join(lines)


def _types(tree: object) -> dict[str, str]:
    if hasattr(tree, "typenames"):
        return dict(tree.typenames())  # type: ignore[attr-defined]
    return {k: str(tree[k].to_akform().type if hasattr(tree[k], "to_akform") else "?") for k in tree.keys()}  # type: ignore[index,attr-defined]


def basket_problems(path: str, *, deep: bool = False) -> list[str]:
    """One line per TTree whose baskets cannot all be read (empty when every basket is fine)."""
    problems = []
    for source in resolve_sources(path):
        if source.remote:
            continue
        trees = list_trees(open_file(source))
        for name in [source.tree] if source.tree else sorted(trees):
            tree = open_tree(Source(source.path, name))
            if not hasattr(tree, "branches"):
                continue  # RNTuple pages are not checked here
            bad = _deep_check(tree) if deep else _header_check(tree, source.path)
            if bad:
                first, count, total = bad
                unit = "branch(es)" if deep else "basket(s)"
                problems.append(f"{source.path}:{name}: {count} of {total} {unit} cannot be read (first: {first});"
                                " reading those entries will fail, copy the file again")
    return problems


def _header_check(tree: Any, path: str) -> tuple[str, int, int] | None:
    size = os.path.getsize(path)
    first, count, total = "", 0, 0
    with open(path, "rb") as handle:
        for branch in tree.itervalues(recursive=True):
            n = branch.num_baskets
            seeks, nbytes = branch.member("fBasketSeek")[:n], branch.member("fBasketBytes")[:n]
            for i, (seek, length) in enumerate(zip(seeks, nbytes)):
                if seek == 0:
                    continue  # stored inside the TTree object itself, read with the metadata
                total += 1
                why = _basket_header_fault(handle, int(seek), int(length), size)
                if why:
                    count += 1
                    first = first or f"branch {branch.name!r}, basket {i} at byte {int(seek)}: {why}"
    return (first, count, total) if count else None


def _basket_header_fault(handle: Any, seek: int, length: int, size: int) -> str:
    """Why the basket at ``seek`` is unreadable, or '' (a TKey header naming class TBasket)."""
    if seek + length > size:
        return f"it ends at byte {seek + length}, beyond the end of the file ({size} bytes): truncated"
    handle.seek(seek)
    head = handle.read(min(length, 64))
    try:
        nbytes, version = struct.unpack(">iH", head[:6])
        pointers = 8 if version > 1000 else 4
        at = 18 + 2 * pointers
        classname = head[at + 1:at + 1 + head[at]]
    except (struct.error, IndexError):
        return "no basket header there: corrupt"
    if nbytes != length or classname != b"TBasket":
        return "no basket header there: corrupt"
    return ""


def _deep_check(tree: Any) -> tuple[str, int, int] | None:
    first, count, names = "", 0, list(tree.keys())
    for name in names:
        try:
            for _ in tree.iterate([name], step_size="100 MB", library="np"):
                pass
        except Exception as err:  # any failure to decode is what we report
            count += 1
            first = first or f"branch {name!r}: {' '.join(str(err).split())[:120]}"
    return (first, count, len(names)) if count else None
