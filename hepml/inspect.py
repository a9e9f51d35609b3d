"""``hepml inspect``: trees, entries and branches with their types; the first command a new user runs."""

from __future__ import annotations

from hepml.io.read import Source, list_trees, open_file, open_tree, resolve_sources

__all__ = ["describe"]


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
